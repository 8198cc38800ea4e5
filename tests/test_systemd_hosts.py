"""Hardening systemd-booted hosts (issue 11): the variants real images have, the two defects
only such hosts show, and reboots.

Each host is a Debian booted by systemd-nspawn (tests/testhosts/) with its own address on a
bridge of this machine; the CLI runs as a user runs it, against that address. After every apply
the host itself must show sshd healthy under systemd (the owning unit active, no failed unit,
nothing fatal in the journal) and take a fresh connection 30 s later.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ClientKeys
from tests.systemd_helpers import (
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
from tests.testhosts.fixtures import SystemdFactory
from tests.testhosts.machine import SystemdHost
from tests.testhosts.rootfs import EXPECTED_OPENSSH, package_version

# variant -> SystemdHost options
VARIANTS = {
    "ssh.service": {},
    "ssh.socket": {"socket_activated": True},
    "KillUserProcesses": {"kill_user_processes": True},
    "no-Include": {"include": False},
}
# Every variant on trixie; the plain ssh.service apply on every suite.
CASES = [("trixie", v) for v in VARIANTS] + [
    (s, "ssh.service") for s in ("bullseye", "bookworm", "forky")
]


def _prove_apply_noop_check(host: SystemdHost, key: Path, tmp_path: Path) -> None:
    cli = cli_for(host, key, tmp_path)
    since = journal_cursor(host)
    out = cli.run("apply", wait=30, confirm_timeout=60)
    assert out.code == 0, out
    assert "compliant=true" in out.stdout, out
    assert_new(host, key)
    assert not try_login(host.address, "root", key), "root can still log in"
    assert_healthy(host, since)
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
    check = cli_for(host, key, tmp_path, user=ADMIN).run("check")
    assert check.code == 0, check
    login_later(host, ADMIN, key)
    assert_healthy(host)


@pytest.mark.parametrize(("suite", "variant"), CASES, ids=[f"{s}-{v}" for s, v in CASES])
def test_apply_noop_check_on_systemd_host(
    systemd_factory: SystemdFactory,
    client_keys: ClientKeys,
    tmp_path: Path,
    suite: str,
    variant: str,
) -> None:
    host = systemd_factory(suite, **VARIANTS[variant])
    # The image is the one meant (a mirror moving on shows up here).
    version = package_version(host.image.path, "openssh-server") or ""
    assert re.match(rf"(\d+:)?{re.escape(EXPECTED_OPENSSH[suite])}p", version), version
    assert_healthy(host)
    _prove_apply_noop_check(host, client_keys.ed25519, tmp_path)


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
    login_later(host, ADMIN, key)
    assert_healthy(host, since)


# --------------------------------------------------------------------------- defect b


def test_kill_user_processes_tool_killed_after_reload_host_still_rolls_back(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    """logind kills everything an ended session left (KillUserProcesses=yes, root not
    excluded): the rollback watcher must live outside the SSH session."""
    host = systemd_factory("trixie", kill_user_processes=True)
    key = client_keys.ed25519
    assert "KillUserProcesses=yes" in host.run("cat /etc/systemd/logind.conf.d/*").stdout
    before = snapshot(host)
    cli = cli_for(host, key, tmp_path)
    run = cli.start("apply", wait=30, confirm_timeout=10)
    run.wait_for("reloaded sshd")
    run.kill()
    assert not lock_gone(host), "the apply confirmed before it was killed"
    poll("the host's own rollback", lambda: lock_gone(host), timeout=10 + 30)
    assert host.run("ls -A /var/lib/hardened-ecs").stdout.strip() == ""
    assert_old(host, before, key)
    assert_healthy(host)
    login_later(host, "root", key)
    # And the next apply converges.
    out = cli.run("apply", wait=30)
    assert out.code == 0, out
    assert_new(host, key)


# --------------------------------------------------------------------------- reboots


def test_reboot_after_apply_stays_hardened_and_after_rollback_stays_original(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    key = client_keys.ed25519
    hardened = systemd_factory("trixie")
    out = cli_for(hardened, key, tmp_path).run("apply", wait=30)
    assert out.code == 0, out
    hardened.reboot()
    assert hardened.boots == 2
    assert_new(hardened, key)
    assert not try_login(hardened.address, "root", key)
    assert_healthy(hardened)

    rolled = systemd_factory("trixie")
    before = snapshot(rolled)
    run = cli_for(rolled, key, tmp_path).start("apply", wait=30, confirm_timeout=10)
    run.wait_for("reloaded sshd")
    run.kill()
    poll("the host's own rollback", lambda: lock_gone(rolled), timeout=10 + 30)
    rolled.reboot()
    assert_old(rolled, before, key)
    assert_healthy(rolled)
