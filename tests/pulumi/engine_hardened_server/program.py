"""One server's boot key, instance and hardening, laid out as `layout` says.

The instance here is a record of a local test host instead of an ECS instance: the engine can
create that for real. Everything else is the project's own code, built as __main__.py builds it
(`flat`: as it did before components/hardened_server.py, under a ``hardened-ecs:server:Server``).
"""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from components.cloudinit import admin_user_data
from components.hardened_server import FORMER_TYPE, HardenedServer, HardenedServerArgs
from components.host_key import BootHostKey
from components.sshd_hardening import SshdHardening, SshdHardeningArgs, key_or_unknown

config = pulumi.Config()
admin = config.get("adminUser") or "ops"
profile = config.get("profile") or "baseline"
public_key = config.require("publicKey")
host = config.get("host")
private_key = key_or_unknown(config.get_secret("privateKey"))
NAME = "server-0"


class HostRecordProvider(dynamic.ResourceProvider):
    """The test host as the instance: its address, kept; another address is a new host."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        return dynamic.CreateResult(id_=f"i-{props['address']}", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        moved = olds.get("address") != news.get("address")
        return dynamic.DiffResult(changes=moved, replaces=["address"] if moved else [])


class HostRecord(dynamic.Resource, module="test", name="HostRecord"):
    address: pulumi.Output[str]

    def __init__(self, name: str, address: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__(HostRecordProvider(), name, {"address": address}, opts)


class TestHostServer:
    """The machine of a HardenedServer: the booted test host, its resource under `parent`."""

    def __init__(self, name: str, user_data: pulumi.Output[str], parent: pulumi.Resource) -> None:
        assert host, "the server needs `host`"
        self.instance = HostRecord(f"{name}-instance", host, pulumi.ResourceOptions(parent=parent))
        self.eip = None
        self.instance_id: pulumi.Output[str] = self.instance.id
        self.public_ip: pulumi.Output[str] = self.instance.address
        self.private_ip = self.instance.address
        self.ssh_command = pulumi.Output.concat("ssh ", admin, "@", self.public_ip)
        self.user_data = user_data


class FlatServer(pulumi.ComponentResource):
    """The Server component as __main__.py had it, around the same machine."""

    def __init__(self, name: str, user_data: pulumi.Output[str]) -> None:
        super().__init__(FORMER_TYPE, name, None, None)
        self.machine = TestHostServer(name, user_data, self)
        self.register_outputs({"publicIp": self.machine.public_ip})


def without_aliases(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult:
    opts = copy.copy(args.opts)
    opts.aliases = []
    return pulumi.ResourceTransformationResult(args.props, opts)


def user_data_of(key: BootHostKey) -> pulumi.Output[str]:
    """As the flat __main__.py rendered it."""

    def render(keys: list[str]) -> str:
        return admin_user_data(admin, public_key, keys[0], keys[1])

    return pulumi.Output.secret(pulumi.Output.all(key.private_key, key.public_key).apply(render))


if config.get("layout") == "component":
    if not config.get_bool("aliases", True):
        pulumi.runtime.register_stack_transformation(without_aliases)
    made: list[TestHostServer] = []

    def machine(name: str, data: pulumi.Output[str], parent: pulumi.Resource) -> TestHostServer:
        made.append(TestHostServer(name, data, parent))
        return made[-1]

    server = HardenedServer(
        NAME,
        HardenedServerArgs(
            machine=machine,
            admin_user=admin,
            operator_public_key=public_key,
            private_key=private_key,
            profile=profile,
            ssh_port=22,
        ),
    )
    pulumi.export("userData", made[0].user_data)
    pulumi.export("bootFingerprint", server.boot_key.fingerprint)
    pulumi.export("hardened", server.hardened)
    pulumi.export("hostKeyFingerprint", server.host_key_fingerprint)
else:
    # __main__.py's loop before the component, as it was.
    boot_key = BootHostKey(f"{NAME}-boot-host-key")
    user_data = user_data_of(boot_key)
    pulumi.export("userData", user_data)
    pulumi.export("bootFingerprint", boot_key.fingerprint)
    if host:
        flat_server = FlatServer(NAME, user_data)
        flat = flat_server.machine
        sshd = SshdHardening(
            f"{NAME}-sshd",
            SshdHardeningArgs(
                host=flat.public_ip,
                port=22,
                private_key=private_key,
                admin_user=admin,
                profile=profile,
                overrides={},
                adopt_admin_user=False,
                bootstrap_user=admin,
                expected_host_key_fingerprint=boot_key.fingerprint,
                rotate_host_key=True,
                instance_id=flat.instance_id,
            ),
            opts=pulumi.ResourceOptions(parent=flat_server, depends_on=[flat.instance]),
        )
        pulumi.export("hardened", sshd.compliant)
        pulumi.export("hostKeyFingerprint", sshd.host_key_fingerprint)
