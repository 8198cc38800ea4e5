"""`make demo`: the hardening under a real `pulumi up`, on two local test hosts, no cloud account.

Two Debian test hosts (sshd on 127.0.0.1, each in its own namespaces: tests/testhosts/chroot.py)
stand in for two fresh servers. A stack of tests/pulumi/engine_project (the project's own
SshdHardening) is deployed with the real Pulumi CLI, its outputs shown and the hosts checked from
outside; then a hand edit on one host is found by `pulumi refresh` and repaired by `pulumi up`; then
`pulumi destroy`, and the hosts and every temporary file are removed. Exit 0 only if every step did
what it should."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tests.testhosts.chroot import TestHost, ssh_command, try_login
from tools.engine_stack import CliUnavailable, EngineStack, Step, cli_dir

SUITES = {"web": "bookworm", "db": "trixie"}
HARDENING_TYPE = "pulumi-python:dynamic/hardening:SshdHardening"
DRIFT = "printf 'PasswordAuthentication yes\\n' > /etc/ssh/sshd_config.d/00-drift.conf"
# The teardown removes the stack too (--remove): a later `pulumi stack rm` would leave the CLI
# telling the user to run it themselves.
DESTROY = ("destroy", "--yes", "--skip-preview", "--remove")


class DemoFailed(RuntimeError):
    pass


def title(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def show(step: Step) -> None:
    """The CLI's output without its Outputs section (`summary` prints the short version)."""
    lines, skipping = [], False
    for line in step.stdout.rstrip().splitlines():
        if line.startswith("Outputs:"):
            skipping = True
        elif line.startswith("Resources:"):
            skipping = False
        if not skipping:
            lines.append(line)
    print("\n".join(lines), flush=True)


def expect(ok: bool, what: str) -> None:
    if not ok:
        raise DemoFailed(what)
    print(f"  ok: {what}", flush=True)


def make_key(directory: Path) -> Path:
    key = directory / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "demo", "-f", str(key)], check=True
    )
    return key


def prove_hardened(hosts: dict[str, TestHost], key: Path) -> None:
    for name, host in hosts.items():
        eff = host.sshd_effective("ops")
        sudo = ssh_command(host.port, "ops", key, "sudo -n id -u")
        expect(
            not try_login(host.port, "root", key)
            and sudo.returncode == 0
            and sudo.stdout.strip() == "0"
            and eff["permitrootlogin"] == "no"
            and eff["passwordauthentication"] == "no",
            f"{name} ({host.openssh_version}, 127.0.0.1:{host.port}): root refused, ops logs in "
            "and sudo works, sshd -T says PermitRootLogin no, PasswordAuthentication no",
        )


def resource_outputs(stack: EngineStack) -> dict[str, dict[str, Any]]:
    """host name -> its SshdHardening's outputs in the state (what `refresh` updates; the
    stack outputs change only when the program runs, in `up`)."""
    return {
        r["urn"].rsplit("::", 1)[1].removesuffix("-sshd"): r["outputs"]
        for r in stack.resources(HARDENING_TYPE)
    }


def summary(stack: EngineStack) -> None:
    for name, out in resource_outputs(stack).items():
        print(
            f"  {name}: compliant={json.dumps(out['compliant'])} drift={out['drift']} "
            f"openssh={out['openssh']} hostKey={out['hostKeyFingerprint']}"
        )


def demo(work: Path, cli: Path) -> None:
    with ExitStack() as stack_of_hosts:
        key = make_key(work)
        hosts: dict[str, TestHost] = {}
        title("starting two fresh test hosts (root logs in with a key and a password)")
        for name, suite in SUITES.items():
            host = TestHost(suite, authorized_keys=[key])
            stack_of_hosts.callback(host.stop)
            hosts[name] = host.start()
            print(f"  {name}: Debian {suite}, {host.openssh_version} on 127.0.0.1:{host.port}")

        stack = EngineStack.create(work / "pulumi", cli, "demo")
        stack.set_object(
            "hosts", [{"name": n, "address": "127.0.0.1", "port": h.port} for n, h in hosts.items()]
        )
        stack.set_config("privateKey", key.read_text(), secret=True)

        title("pulumi preview")
        show(stack.run("preview"))
        title("pulumi up")
        show(stack.run("up", "--yes", "--skip-preview"))
        title("pulumi stack output")
        for name, out in stack.outputs().items():
            print(
                f"  {name}: hardened={json.dumps(out['hardened'])} openssh={out['openssh']} "
                f"hostKeyFingerprint={out['hostKeyFingerprint']}"
            )
        prove_hardened(hosts, key)

        title("a hand edit on web: a drop-in read before ours turns passwords back on")
        hosts["web"].run(DRIFT, check=True)
        hosts["web"].reload()
        drift = stack.run("preview", "--refresh", "--expect-no-changes", check=False)
        show(drift)
        expect(drift.returncode != 0, "pulumi preview --refresh --expect-no-changes fails")
        title("pulumi refresh: the drift lands in the state")
        stack.run("refresh", "--yes", "--skip-preview")
        summary(stack)
        expect(
            resource_outputs(stack)["web"]["drift"] == ["PasswordAuthentication"],
            "web's state now says compliant=false, drift=[PasswordAuthentication]",
        )
        title("pulumi up: puts it back")
        show(stack.run("up", "--yes", "--skip-preview"))
        summary(stack)
        prove_hardened(hosts, key)
        stack.run("preview", "--expect-no-changes")
        expect(True, "pulumi preview --expect-no-changes passes again")

        title("pulumi destroy (the hosts keep their hardened sshd)")
        show(stack.run(*DESTROY))
        prove_hardened(hosts, key)
        title("stopping the test hosts")


def main() -> int:
    try:
        cli = cli_dir()
    except CliUnavailable as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="hardened-ecs-demo-") as tmp:
        try:
            demo(Path(tmp), cli)
        except (DemoFailed, AssertionError) as exc:
            print(f"\ndemo: FAILED: {exc}", file=sys.stderr)
            return 1
    print("\ndemo: done; nothing is left running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
