"""Stand-ins for the security-group rules and each server's SshdHardening: the rules named by
components/ssh_access.rule_name, each stand-in depending on every rule (as HardenedServer's
SshdHardening depends on SshAccess.rules), a new port an update of the stand-in (as the
provider's diff says: settings.UPDATE_ON). Each operation appends one line to the log.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from components.ssh_access import rule_name

config = pulumi.Config()
port = config.require_int("sshPort")
cidrs: list[str] = config.require_object("cidrs")
log = config.require("log")
failing: list[str] = config.get_object("failMove") or []


def record(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")


class RuleProvider(dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        record(props["log"], f"create rule {int(props['port'])} {props['cidr']}")
        return dynamic.CreateResult(id_=f"{props['port']}:{props['cidr']}", outs=props)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        record(props["log"], f"delete rule {int(props['port'])} {props['cidr']}")


class ServerProvider(dynamic.ResourceProvider):
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        return dynamic.DiffResult(changes=int(olds["port"]) != int(news["port"]))

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        record(props["log"], f"create {props['name']} {int(props['port'])}")
        return dynamic.CreateResult(id_=props["name"], outs=props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        move = f"{news['name']} {int(olds['port'])}->{int(news['port'])}"
        if news["name"] in news["failing"]:
            record(news["log"], f"failed move {move}")
            raise RuntimeError(f"move of {move} failed (engine exit 4): host back on the old port")
        record(news["log"], f"move {move}")
        return dynamic.UpdateResult(outs=news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        record(props["log"], f"delete {props['name']}")


class Rule(dynamic.Resource, module="order", name="Rule"):
    pass


class Server(dynamic.Resource, module="order", name="Server"):
    pass


rules = [
    Rule(
        RuleProvider(),
        f"ssh-{rule_name(cidr, port)}",
        {"port": port, "cidr": cidr, "log": log},
    )
    for cidr in cidrs
]
for index in range(config.require_int("servers")):
    name = f"server-{index}"
    Server(
        ServerProvider(),
        f"{name}-sshd",
        {"name": name, "port": port, "log": log, "failing": failing},
        pulumi.ResourceOptions(depends_on=rules),
    )
