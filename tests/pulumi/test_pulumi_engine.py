"""The hardening resource under the real Pulumi engine: the CLI, its Python language host, the
engine's own `python -m pulumi.dynamic` provider process, a file backend and passphrase secrets.

One stack of tests/pulumi/engine_project (the project's own ``SshdHardening``, imported from
components/sshd_hardening/) is walked through a deployment's life against two real OpenSSH test
hosts (bookworm and trixie chroots, tests/testhosts/chroot.py). The tests run in file order and each
checks one step; a failed step makes the later ones fail too (they share the stack).

The CLI comes from scripts/pulumi-cli.sh (installed, or built and cached); when it can get none
the first test fails with its one line: never a skip.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hardening.host.paths import STATE_DIR
from hardening.model.controls import load_catalogue
from hardening.planning.sshd_config import BEGIN, DROPIN_NAME, END
from tests.conftest import ClientKeys, _skip_or_fail, hosts_unavailable_reason
from tests.helpers.chroot_observe import (
    HARDENED_ACCESS,
    access,
    host_key_fingerprint,
    snapshot,
    snapshot_diff,
)
from tests.testhosts.chroot import TestHost, server_host_key, try_login
from tools.engine_stack import CliUnavailable, EngineStack, Step, cli_dir

pytestmark = pytest.mark.host

HARDENING_TYPE = "pulumi-python:dynamic/hardening:SshdHardening"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # how Pulumi marks a secret value in state
SUITES = {"a": "bookworm", "b": "trixie"}
CONTROL_IDS = {c.id for c in load_catalogue().controls}
KILL_WAIT = 300.0  # how long the killed `up` may take to reach a host (a bound, not a check)


@dataclass
class World:
    stack: EngineStack
    hosts: dict[str, TestHost]
    key: Path
    fingerprints: dict[str, str]  # host key recorded by the first `up`

    @property
    def key_text(self) -> str:
        return self.key.read_text()

    def urn_name(self, name: str) -> str:
        return f"{name}-sshd"

    def resource(self, name: str) -> dict[str, Any]:
        (found,) = [
            r
            for r in self.stack.resources(HARDENING_TYPE)
            if r["urn"].endswith(f"::{self.urn_name(name)}")
        ]
        return found


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, client_keys: ClientKeys) -> Iterator[World]:
    reason = hosts_unavailable_reason()
    if reason is not None:
        _skip_or_fail(reason)
    try:
        cli = cli_dir()
    except CliUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    key = client_keys.ed25519
    hosts = {name: TestHost(suite, authorized_keys=[key]) for name, suite in SUITES.items()}
    try:
        for host in hosts.values():
            host.start()
        stack = EngineStack.create(tmp_path_factory.mktemp("engine"), cli)
        stack.set_object(
            "hosts",
            [{"name": n, "address": "127.0.0.1", "port": h.port} for n, h in hosts.items()],
        )
        stack.set_config("privateKey", key.read_text(), secret=True)
        yield World(stack, hosts, key, {})
    finally:
        for host in hosts.values():
            host.stop()


NO_CHANGE_OPS = ("same", "refresh", "read")


def planned(step: Step) -> dict[str, str]:
    """resource name -> the change planned for it, from `pulumi preview --json` (resources
    left as they are, and the "refresh" steps of a `--refresh` preview, are not listed)."""
    doc = json.loads(step.stdout)
    return {
        s["urn"].rsplit("::", 1)[1]: s["op"]
        for s in doc.get("steps", [])
        if s["urn"].split("::")[2].endswith(HARDENING_TYPE) and s["op"] not in NO_CHANGE_OPS
    }


def accepted(log: str, user: str) -> int:
    return log.count(f"Accepted publickey for {user} ")


def host_key_fingerprint_of(public_key: str) -> str:
    """SHA256:... of a "type base64" public key."""
    blob = base64.b64decode(public_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def key_fragments(key_text: str) -> list[str]:
    return [ln for ln in key_text.strip().splitlines() if "PRIVATE KEY" not in ln and len(ln) > 20]


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (from /proc), parents first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def kill_tree(root: int) -> list[int]:
    """SIGKILL `root` and all its descendants; the PIDs it found."""
    tree = process_tree(root)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):  # a short-lived one already gone
            os.kill(pid, signal.SIGKILL)
    return tree


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it is dead all the same)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 60  # a bound for a SIGKILLed process, not a measurement
    while alive(pid):
        assert time.monotonic() < deadline, f"process {pid} survived SIGKILL"
        time.sleep(0.05)


def assert_summary_matches(outputs: dict[str, Any]) -> None:
    """The summary counts what the per-control results say (control_state.py's two outputs)."""
    statuses = list(outputs["controls"].values())
    summary = outputs["controlSummary"]
    assert summary["passed"] == statuses.count("pass"), summary
    assert summary["failed"] == statuses.count("fail"), summary
    assert summary["notApplicable"] == statuses.count("not applicable"), summary
    assert summary["notEnforced"] == statuses.count("not enforced"), summary
    failing = [i for i, st in outputs["controls"].items() if st == "fail"]
    assert sorted(summary["failedIds"]) == sorted(failing), summary  # state sorts keys


def set_overrides(world: World, overrides: dict[str, str]) -> None:
    world.stack.set_object("overrides", overrides)


def effective(world: World, name: str, directive: str) -> str:
    return world.hosts[name].sshd_effective("ops")[directive]


# ------------------------------------------------------------------------------ the life


def test_preview_plans_two_creates_and_opens_no_ssh_connection(world: World) -> None:
    logs = {n: h.syslog() for n, h in world.hosts.items()}
    step = world.stack.run("preview", "--json")
    assert planned(step) == {"a-sshd": "create", "b-sshd": "create"}, step.describe()
    for name, host in world.hosts.items():
        assert host.syslog() == logs[name], f"the preview reached host {name}"


def test_up_hardens_both_hosts(world: World) -> None:
    logs = {n: h.syslog() for n, h in world.hosts.items()}
    up = world.stack.run("up", "--yes", "--skip-preview")
    outputs = world.stack.outputs()
    for name, host in world.hosts.items():
        # Both hosts are on 127.0.0.1: the progress lines tell them apart by name.
        assert f"sshd hardening: {name}: hardened and confirmed (" in up.output, up.describe()
        # The proof is on the host: sshd -T, root refused, the admin user in with sudo.
        assert access(host, world.key) == HARDENED_ACCESS, name
        eff = host.sshd_effective("ops")
        assert eff["permitrootlogin"] == "no" and eff["passwordauthentication"] == "no"
        assert eff["maxauthtries"] == "3"  # baseline
        # The engine's provider process connected as root (the syslog sees connections).
        assert accepted(host.syslog()[len(logs[name]) :], "root") >= 1
        assert outputs[name]["hardened"] is True
        assert outputs[name]["drift"] == []
        assert outputs[name]["hostKeyFingerprint"] == host_key_fingerprint(host)
        world.fingerprints[name] = outputs[name]["hostKeyFingerprint"]
        # The state keeps every control's status as the apply's fresh login read it, and the
        # stack exports its summary: a hardened host fails no control.
        state = world.resource(name)["outputs"]
        assert set(state["controls"]) == CONTROL_IDS, name
        assert state["controlSummary"] == outputs[name]["controls"]
        assert_summary_matches(state)
        assert state["controlSummary"]["failedIds"] == [], state["controlSummary"]
        assert state["controls"]["password-authentication"] == "pass"


def test_preview_right_after_up_expects_no_changes(world: World) -> None:
    world.stack.run("preview", "--expect-no-changes")


def test_hand_edit_fails_refresh_preview_is_recorded_by_refresh_and_fixed_by_up(
    world: World,
) -> None:
    a = world.hosts["a"]
    a.run(
        "printf 'PasswordAuthentication yes\\n' > /etc/ssh/sshd_config.d/00-drift.conf", check=True
    )
    a.reload()
    assert effective(world, "a", "passwordauthentication") == "yes"

    drift = world.stack.run("preview", "--refresh", "--expect-no-changes", "--json", check=False)
    assert drift.returncode != 0, drift.describe()
    assert planned(drift) == {"a-sshd": "update"}, drift.describe()
    assert "no changes were expected" in drift.output.lower(), drift.describe()

    world.stack.run("refresh", "--yes", "--skip-preview")
    a_outs = world.resource("a")["outputs"]
    assert a_outs["compliant"] is False
    assert a_outs["drift"] == ["PasswordAuthentication"]
    assert a_outs["effective"]["PasswordAuthentication"] == "yes"
    # The refresh recorded the control the hand edit broke, in the results and the summary.
    assert a_outs["controls"]["password-authentication"] == "fail"
    assert "password-authentication" in a_outs["controlSummary"]["failedIds"]
    assert_summary_matches(a_outs)
    # A refresh does not run the program: the export is still the last `up`'s until a
    # refresh that does (docs/evidence.md).
    assert world.stack.outputs()["a"]["controls"]["failedIds"] == []
    world.stack.run("refresh", "--yes", "--skip-preview", "--run-program")
    a_outs = world.resource("a")["outputs"]
    assert world.stack.outputs()["a"]["controls"] == a_outs["controlSummary"]
    assert world.stack.outputs()["a"]["controls"]["failedIds"] == ["password-authentication"]
    assert world.resource("b")["outputs"]["compliant"] is True
    assert world.resource("b")["outputs"]["controlSummary"]["failedIds"] == []

    world.stack.run("up", "--yes", "--skip-preview")
    assert effective(world, "a", "passwordauthentication") == "no"
    assert access(a, world.key) == HARDENED_ACCESS
    assert world.resource("a")["outputs"]["compliant"] is True
    assert world.resource("a")["outputs"]["controls"]["password-authentication"] == "pass"
    assert world.stack.outputs()["a"]["controls"]["failedIds"] == []
    world.stack.run("preview", "--expect-no-changes")


def test_changed_setting_is_an_in_place_update_as_the_admin_user_host_key_pinned(
    world: World,
) -> None:
    set_overrides(world, {"MaxAuthTries": "2"})
    plan = world.stack.run("preview", "--json")
    assert planned(plan) == {"a-sshd": "update", "b-sshd": "update"}, plan.describe()
    ids = {n: world.resource(n)["id"] for n in world.hosts}
    logs = {n: h.syslog() for n, h in world.hosts.items()}

    world.stack.run("up", "--yes", "--skip-preview")
    for name, host in world.hosts.items():
        assert effective(world, name, "maxauthtries") == "2"
        new_log = host.syslog()[len(logs[name]) :]
        assert accepted(new_log, "ops") >= 1 and accepted(new_log, "root") == 0, new_log
        res = world.resource(name)
        assert res["id"] == ids[name]  # same resource: updated, not replaced
        assert res["outputs"]["hostKeyFingerprint"] == world.fingerprints[name]
    world.stack.run("preview", "--expect-no-changes")


def test_placement_block_moves_one_hosts_values_to_the_top_of_sshd_config_in_place(
    world: World,
) -> None:
    # Host b: a's hand edit left 00-drift.conf sorting before our drop-in, so a has the
    # block already (the engine's own fallback).
    main, dropin = "/etc/ssh/sshd_config", f"/etc/ssh/sshd_config.d/{DROPIN_NAME}"
    b = world.hosts["b"]
    assert b.path(dropin).is_file() and BEGIN not in b.path(main).read_text()
    world.stack.set_object("placements", {"b": "block"})
    plan = world.stack.run("preview", "--json")
    assert planned(plan) == {"b-sshd": "update"}, plan.describe()
    id_b = world.resource("b")["id"]

    world.stack.run("up", "--yes", "--skip-preview")
    # Where a scanner that reads only sshd_config looks: our block, before anything else.
    text = b.path(main).read_text()
    assert text.startswith(BEGIN + "\n"), text[:400]
    block = text.split(END, 1)[0].splitlines()
    assert {"MaxAuthTries 2", "PermitRootLogin no", "PasswordAuthentication no"} <= set(block)
    assert not b.path(dropin).exists()
    assert effective(world, "b", "maxauthtries") == "2"
    assert access(b, world.key) == HARDENED_ACCESS
    state = world.resource("b")
    assert state["id"] == id_b and state["outputs"]["placement"] == "block"  # updated in place
    assert world.resource("a")["outputs"]["placement"] == "dropin"
    # The next preview, and one that refreshes first (the check with the same placement).
    world.stack.run("preview", "--expect-no-changes")
    world.stack.run("preview", "--refresh", "--expect-no-changes")


def test_changed_host_key_fails_up_with_the_engines_message_and_leaves_the_host_alone(
    world: World,
) -> None:
    b = world.hosts["b"]
    b.run("mkdir /root/host-keys && cp -p /etc/ssh/ssh_host_* /root/host-keys/", check=True)
    b.run("rm -f /etc/ssh/ssh_host_* && ssh-keygen -A -q", check=True)
    b.restart()
    assert host_key_fingerprint_of(server_host_key(b.port)) != world.fingerprints["b"]
    before = snapshot(b)

    set_overrides(world, {"MaxAuthTries": "3"})
    failed = world.stack.run("up", "--yes", "--skip-preview", check=False)
    assert failed.returncode != 0, failed.describe()
    assert "b-sshd" in failed.output
    assert "engine exit 3" in failed.output and "pinned" in failed.output, failed.describe()
    assert snapshot_diff(before, snapshot(b)) == []
    assert effective(world, "b", "maxauthtries") == "2"
    assert effective(world, "a", "maxauthtries") == "3"  # the other host went ahead

    # The server's own keys back: the next `up` converges it.
    b.run("rm -f /etc/ssh/ssh_host_* && cp -p /root/host-keys/* /etc/ssh/", check=True)
    b.restart()
    world.stack.run("up", "--yes", "--skip-preview")
    assert effective(world, "b", "maxauthtries") == "3"
    world.stack.run("preview", "--expect-no-changes")


def test_preview_without_the_private_key_shows_no_change(world: World) -> None:
    world.stack.run("config", "rm", "privateKey")
    try:
        world.stack.run("preview", "--expect-no-changes")
    finally:
        world.stack.set_config("privateKey", world.key_text, secret=True)


def test_state_and_export_hold_the_private_key_only_as_ciphertext(world: World) -> None:
    for name in world.hosts:
        res = world.resource(name)
        for props in (res["inputs"], res["outputs"]):
            value = props["privateKey"]
            assert isinstance(value, dict) and value[SECRET_SIG] and value["ciphertext"]
    files = world.stack.state_files()
    assert any(p.suffix == ".json" and "stacks" in p.parts for p in files), files
    stack_file = (world.stack.project / f"Pulumi.{world.stack.stack}.yaml").read_text()
    assert "secure:" in stack_file
    for path in [*files, world.stack.project / f"Pulumi.{world.stack.stack}.yaml"]:
        text = path.read_bytes().decode(errors="replace")
        for fragment in key_fragments(world.key_text):
            assert fragment not in text, f"key material in {path}"


def test_sigkill_mid_apply_leaves_hosts_reachable_and_the_next_up_converges(
    world: World, tmp_path: Path
) -> None:
    set_overrides(world, {"MaxAuthTries": "4"})
    log = tmp_path / "killed-up.log"
    proc = world.stack.popen("up", "--yes", "--skip-preview", log=log)
    try:
        # Mid-apply: once a host's transaction holds its lock (staging, or committed and not
        # yet confirmed).
        lock = f"{STATE_DIR}/lock"
        deadline = time.monotonic() + KILL_WAIT
        while not any(h.path(lock).is_dir() for h in world.hosts.values()):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the update never locked a host"
            time.sleep(0.02)
        locked = [n for n, h in world.hosts.items() if h.path(lock).is_dir()]
        # The CLI and everything it started, at once (like a runner that dies): the CLI
        # starts each plugin in a process group of its own, so killing its group would leave
        # the provider process behind, finishing its apply (and then lingering).
        tree = kill_tree(proc.pid)
        assert len(tree) >= 3, tree  # the CLI, the language host, the provider (shim, python)
    finally:
        if proc.poll() is None:  # the test failed before the kill: leave nothing running
            kill_tree(proc.pid)
        proc.wait()
    for pid in tree:
        wait_gone(pid)
    world.stack.record(("up", "(SIGKILLed)"), proc.returncode, log.read_text())
    assert any(world.hosts[n].path(lock).is_dir() for n in locked)  # left to the dead apply

    for name, host in world.hosts.items():
        assert try_login(host.port, "ops", world.key), f"{name} unreachable after the kill"
        assert effective(world, name, "maxauthtries") in ("3", "4"), name
        assert host.run("/usr/sbin/sshd -t").returncode == 0, name

    # A file backend keeps the dead update's lock: the CLI refuses until `pulumi cancel`.
    blocked = world.stack.run("up", "--yes", "--skip-preview", check=False)
    assert blocked.returncode != 0 and "pulumi cancel" in blocked.output, blocked.describe()
    world.stack.run("cancel", "--yes")
    # Then it drops the dead update's pending operations (a warning) and the provider, after
    # outwaiting the dead transaction's host lock, converges both hosts.
    converged = world.stack.run("up", "--yes", "--skip-preview")
    assert "pending operations" in converged.output, converged.describe()
    for name, host in world.hosts.items():
        assert effective(world, name, "maxauthtries") == "4", name
        assert access(host, world.key) == HARDENED_ACCESS, name
    world.stack.run("preview", "--expect-no-changes")


def test_destroy_removes_the_resources_and_leaves_the_hosts_hardened(world: World) -> None:
    step = world.stack.run("destroy", "--yes", "--skip-preview")
    assert world.stack.resources(HARDENING_TYPE) == []
    for name, host in world.hosts.items():
        assert access(host, world.key) == HARDENED_ACCESS, name
        assert effective(world, name, "maxauthtries") == "4", name
        # Named by the program's label: two hosts on one address stay apart.
        said = f"{name} (127.0.0.1:{host.port}) is no longer managed"
        assert said in step.output, step.describe()


def test_no_step_printed_the_private_key(world: World) -> None:
    assert len(world.stack.transcript) > 15
    for step in world.stack.transcript:
        for fragment in key_fragments(world.key_text):
            assert fragment not in step.output, f"key material in pulumi {' '.join(step.args)}"


def test_the_engine_ran_the_cached_or_installed_cli(world: World) -> None:
    version = subprocess.run(
        [str(world.stack.cli / "pulumi"), "version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip().startswith("v3.")
