"""Hardening systemd-booted hosts (issue 11): the variants real images have, the two defects
only such hosts show, and reboots.

Each host is a Debian booted by systemd-nspawn (tests/testhosts/) with its own address on a
bridge of this machine; the CLI runs as a user runs it, against that address. After every apply
the host itself must show sshd healthy under systemd (the owning unit active, no failed unit,
nothing fatal in the journal) and take a fresh connection 30 s later.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ClientKeys
from tests.helpers.cli import Outcome
from tests.helpers.systemd_observe import (
    ADMIN,
    assert_healthy,
    assert_new,
    assert_old,
    cli_for,
    journal_cursor,
    lock_gone,
    login_later,
    main_pid,
    poll,
    snapshot,
    ssh_journal,
)
from tests.testhosts.client import try_login
from tests.testhosts.fixtures import SystemdFactory, unavailable_reason
from tests.testhosts.gate import skip_or_fail
from tests.testhosts.machine import SystemdHost
from tests.testhosts.rootfs import EXPECTED_OPENSSH, Image, package_version

# variant -> SystemdHost options
VARIANTS: dict[str, dict[str, Any]] = {
    "ssh.service": {},
    "ssh.socket": {"socket_activated": True},
    "KillUserProcesses": {"kill_user_processes": True},
    "no-Include": {"include": False},
}
# Every variant on trixie; ssh.service and ssh.socket on every other suite.
CASES = [("trixie", v) for v in VARIANTS] + [
    (s, v) for s in ("bullseye", "bookworm", "forky") for v in ("ssh.service", "ssh.socket")
]


@dataclass
class Applied:
    """One variant's host, applied once (all variants side by side, see `applied`)."""

    host: SystemdHost
    since: str  # journal cursor before the apply
    outcome: Outcome
    at: float  # time.monotonic() when the apply ended


@pytest.fixture(scope="module")
def applied(
    client_keys: ClientKeys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Applied]]:
    """Every case's host booted and applied at the same time: the 30 s each must wait before
    its later login overlap instead of adding up."""
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)
    for suite, _ in CASES:
        if not Image(suite).path.is_dir():
            skip_or_fail(f"no rootfs cache for {suite}: run `make testhosts`")
    keys = [Path(f"{k}.pub").read_text() for k in client_keys.installed]
    hosts = {f"{s}-{v}": SystemdHost(s, authorized_keys=keys, **VARIANTS[v]) for s, v in CASES}
    tmp = tmp_path_factory.mktemp("variants")

    def one(case: str) -> Applied:
        host = hosts[case].start()
        assert_healthy(host)
        since = journal_cursor(host)
        out = cli_for(host, client_keys.ed25519, tmp).run("apply", wait=30, confirm_timeout=60)
        return Applied(host, since, out, time.monotonic())

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            yield dict(zip(hosts, pool.map(one, hosts), strict=True))
    finally:
        for host in hosts.values():
            host.stop()


@pytest.mark.host
@pytest.mark.systemd
@pytest.mark.parametrize(("suite", "variant"), CASES, ids=[f"{s}-{v}" for s, v in CASES])
def test_apply_noop_check_on_systemd_host(
    applied: dict[str, Applied],
    client_keys: ClientKeys,
    tmp_path: Path,
    suite: str,
    variant: str,
) -> None:
    run = applied[f"{suite}-{variant}"]
    host, key = run.host, client_keys.ed25519
    # The image is the one meant (a mirror moving on shows up here).
    version = package_version(host.image.path, "openssh-server") or ""
    assert re.match(rf"(\d+:)?{re.escape(EXPECTED_OPENSSH[suite])}p", version), version
    assert run.outcome.code == 0, run.outcome
    assert "compliant=true" in run.outcome.stdout, run.outcome
    assert_new(host, key)
    assert not try_login(host.address, "root", key), "root can still log in"
    assert_healthy(host, run.since)
    # No-op: nothing written, sshd not touched (same main PID, no new unit job).
    pid, since = main_pid(host), journal_cursor(host)
    files = snapshot(host).files
    again = cli_for(host, key, tmp_path, user=ADMIN).run("apply", wait=30)
    assert again.code == 0, again
    assert "nothing to change" in again.stderr, again
    assert snapshot(host).files == files
    assert main_pid(host) == pid
    log = ssh_journal(host, since)
    for job in ("Reloading", "Stopping", "Starting", "Received SIGHUP"):
        assert job not in log, log
    evidence = tmp_path / "evidence.json"
    check = cli_for(host, key, tmp_path, user=ADMIN).run(
        "check", "--report", str(evidence), "--format", "json"
    )
    assert check.code == 0, check
    # The evidence (issue 23) on Debian 11-14 under systemd: every control baseline enforces.
    (report,) = json.loads(evidence.read_text())["hosts"]
    assert report["openssh"] == f"OpenSSH_{EXPECTED_OPENSSH[suite]}", report["openssh"]
    assert report["os"]["id"] == "debian"
    failing = {c["id"]: c["actual"] for c in report["controls"] if c["status"] == "fail"}
    assert failing == {}, failing
    login_later(host, ADMIN, key, since=run.at)
    assert_healthy(host, run.since)


# --------------------------------------------------------------------------- defect a


def test_socket_activated_sshd_is_restarted_through_its_service_not_reloaded(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    """Debian's ssh.socket (Accept=no) hands sshd its listener: a SIGHUP re-exec loses it
    ("fatal: Cannot bind any address"). The journal must show a restart of ssh.service, the
    socket never failing and a new sshd serving the hardened configuration."""
    host = systemd_factory("trixie", socket_activated=True)
    key = client_keys.ed25519
    assert host.is_active("ssh.socket") == "active"
    assert host.run("systemctl is-enabled ssh.service").stdout.strip() == "disabled"
    before_pid, since = main_pid(host), journal_cursor(host)
    out = cli_for(host, key, tmp_path).run("apply", wait=30, confirm_timeout=60)
    assert out.code == 0, out
    log = ssh_journal(host, since)
    assert "Received SIGHUP" not in log, log
    assert "Stopping ssh.service" in log and "Started ssh.service" in log, log
    assert main_pid(host) not in (0, before_pid)
    assert_healthy(host, since)
    assert_new(host, key)


# --------------------------------------------------------------------------- defect b


@pytest.mark.parametrize("suite", ["bullseye", "trixie", "forky"])
def test_kill_user_processes_tool_killed_after_reload_host_still_rolls_back(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path, suite: str
) -> None:
    """logind kills everything an ended session left (KillUserProcesses=yes, root not
    excluded): the rollback watcher must live outside the SSH session."""
    host = systemd_factory(suite, kill_user_processes=True)
    key = client_keys.ed25519
    assert "KillUserProcesses=yes" in host.run("cat /etc/systemd/logind.conf.d/*").stdout
    before = snapshot(host)
    cli = cli_for(host, key, tmp_path)
    run = cli.start("apply", wait=30, confirm_timeout=10)
    run.wait_for("reloaded sshd")
    run.kill()
    assert not lock_gone(host), "the apply confirmed before it was killed"
    poll("the host's own rollback", lambda: lock_gone(host), timeout=10 + 30)
    # No transaction state is left; the admin user the killed run made stays, with its record.
    assert set(host.run("ls -A /var/lib/hardened-ecs").stdout.split()) <= {"admin-users"}
    assert_old(host, before, key)
    assert_healthy(host)
    # And the next apply converges.
    out = cli.run("apply", wait=30)
    assert out.code == 0, out
    assert_new(host, key)


def test_kill_user_processes_change_as_admin_through_sudo_still_rolls_back(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    """The update path (`pulumi up` on a hardened server): the admin user, through sudo."""
    host = systemd_factory("trixie", kill_user_processes=True)
    key = client_keys.ed25519
    first = cli_for(host, key, tmp_path).run("apply", wait=30)
    assert first.code == 0, first
    hardened = snapshot(host)
    assert hardened.effective["maxauthtries"] == "3"
    admin = cli_for(host, key, tmp_path, user=ADMIN)
    run = admin.start("apply", "--set", "MaxAuthTries=2", wait=30, confirm_timeout=10)
    run.wait_for("reloaded sshd")
    assert host.sshd_effective()["maxauthtries"] == "2"
    run.kill()
    poll("the host's own rollback", lambda: lock_gone(host), timeout=10 + 30)
    back = snapshot(host)
    assert back.files == hardened.files and back.effective == hardened.effective
    assert back.leftovers == ()
    assert try_login(host.address, ADMIN, key)
    assert_healthy(host)


_SYSTEMD_219_RUN = """#!/bin/sh
# Like CentOS 7's systemd 219: no --collect.
for a in "$@"; do
  case "$a" in --collect) echo "systemd-run: unrecognized option '--collect'" >&2; exit 1 ;; esac
done
exec /usr/bin/systemd-run "$@"
"""


def test_watcher_unit_also_starts_where_systemd_run_has_no_collect(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = systemd_factory("trixie", kill_user_processes=True)
    host.write("usr/local/sbin/systemd-run", _SYSTEMD_219_RUN, 0o755)
    key = client_keys.ed25519
    before = snapshot(host)
    run = cli_for(host, key, tmp_path).start("apply", wait=30, confirm_timeout=10)
    run.wait_for("reloaded sshd")
    units = host.run("systemctl list-units --plain --no-legend 'hardened-ecs-rollback-*'")
    assert "hardened-ecs rollback watcher" in units.stdout, units.stdout
    run.kill()
    poll("the host's own rollback", lambda: lock_gone(host), timeout=10 + 30)
    assert_old(host, before, key)
    assert_healthy(host)


# --------------------------------------------------------------------------- reboots


@pytest.mark.parametrize("variant", ["ssh.service", "ssh.socket"])
def test_reboot_after_apply_stays_hardened_and_after_rollback_stays_original(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path, variant: str
) -> None:
    key = client_keys.ed25519
    hardened = systemd_factory("trixie", **VARIANTS[variant])
    out = cli_for(hardened, key, tmp_path).run("apply", wait=30)
    assert out.code == 0, out
    hardened.reboot()
    assert hardened.boots == 2
    assert_new(hardened, key)
    assert not try_login(hardened.address, "root", key)
    assert_healthy(hardened)

    rolled = systemd_factory("trixie", **VARIANTS[variant])
    before = snapshot(rolled)
    run = cli_for(rolled, key, tmp_path).start("apply", wait=30, confirm_timeout=10)
    run.wait_for("reloaded sshd")
    run.kill()
    poll("the host's own rollback", lambda: lock_gone(rolled), timeout=10 + 30)
    rolled.reboot()
    assert_old(rolled, before, key)
    assert_healthy(rolled)
