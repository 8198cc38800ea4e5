"""Network faults through a real network (issue 11): nft rules inside a systemd host's own
network namespace drop packets the way a firewall or a broken link does.

* a filtered port (SYNs dropped): the tool gives up after --wait, exit 3, nothing changed;
* the real sshd sends its banner, then hears nothing (conntrack byte count): the same;
* the link cut both ways right after the reload, for longer than the confirm timeout, then
  healed: the host rolls itself back, is reachable again, and the tool says which way it went;
* the same cut with the tool killed at that moment, under logind's KillUserProcesses=yes.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.conftest import ClientKeys
from tests.helpers.systemd_observe import (
    Snapshot,
    assert_healthy,
    assert_new,
    assert_old,
    cli_for,
    lock_gone,
    poll,
    snapshot,
)
from tests.testhosts.client import LoginError, try_login, wait_login
from tests.testhosts.fixtures import SystemdFactory
from tests.testhosts.machine import SystemdHost
from tests.testhosts.network import fault_rules

CONFIRM = 10  # seconds the host waits for the confirmation before it rolls back
CUT = CONFIRM + 15  # the cut lasts longer than that


def _apply_exits_3_then_heals_to_old(
    host: SystemdHost, key: Path, tmp_path: Path, before: Snapshot, reason: str
) -> None:
    """An apply through the fault gives up after --wait (exit 3, the address and `reason`
    named); once the fault is healed the host is exactly as before."""
    out = cli_for(host, key, tmp_path).run("apply", wait=5)
    assert out.code == 3, out
    assert f"cannot reach root@{host.address}:22 within 5s (--wait)" in out.stdout, out
    assert reason in out.stdout, out
    host.heal()
    assert_old(host, before, key)


def test_filtered_port_exits_3_naming_host_and_wait_and_changes_nothing(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = systemd_factory("trixie")
    key = client_keys.ed25519
    before = snapshot(host)
    host.nft(fault_rules())
    try:
        try_login(host.address, "root", key)
    except LoginError as exc:
        assert "timed out" in str(exc), exc  # filtered: no answer at all, not refused
    else:
        raise AssertionError("logged in through a filtered port")
    _apply_exits_3_then_heals_to_old(host, key, tmp_path, before, "timed out")


def test_real_sshd_that_stalls_after_its_banner_exits_3_and_changes_nothing(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = systemd_factory("trixie")
    key = client_keys.ed25519
    before = snapshot(host)
    host.stall_after_banner()
    with socket.create_connection((host.address, 22), timeout=10) as s:
        banner = s.recv(256)
    assert banner.startswith(b"SSH-2.0-OpenSSH_"), banner  # the real sshd answered
    _apply_exits_3_then_heals_to_old(host, key, tmp_path, before, "server stalled")


def test_link_cut_after_the_reload_host_rolls_back_and_tool_says_so(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = systemd_factory("trixie")
    key = client_keys.ed25519
    before = snapshot(host)
    cli = cli_for(host, key, tmp_path)
    run = cli.start("apply", wait=30, confirm_timeout=CONFIRM)
    run.wait_for("reloaded sshd")
    host.nft(fault_rules(both_ways=True))
    time.sleep(CUT)
    # Cut off, nobody confirmed: the host puts the old configuration back by itself.
    poll("the host's own rollback", lambda: lock_gone(host), timeout=30)
    host.heal()
    out = run.finish()
    assert out.code in (3, 4), out
    if out.code == 4:
        assert "rolled back by itself" in out.stdout, out
    else:
        assert "its own rollback" in out.stdout, out
    wait_login(host.address, "root", key, limit=30)
    assert_old(host, before, key)
    assert_healthy(host)
    converged = cli.run("apply", wait=30)
    assert converged.code == 0, converged
    assert_new(host, key)


def test_link_cut_and_tool_killed_under_kill_user_processes_host_rolls_back(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = systemd_factory("trixie", kill_user_processes=True)
    key = client_keys.ed25519
    before = snapshot(host)
    run = cli_for(host, key, tmp_path).start("apply", wait=30, confirm_timeout=CONFIRM)
    run.wait_for("reloaded sshd")
    host.nft(fault_rules(both_ways=True))
    run.kill()
    time.sleep(CUT)
    poll("the host's own rollback", lambda: lock_gone(host), timeout=30)
    # No transaction state is left; the admin user the killed run made stays, with its record.
    assert set(host.run("ls -A /var/lib/hardened-ecs").stdout.split()) <= {"admin-users"}
    host.heal()
    wait_login(host.address, "root", key, limit=30)
    assert_old(host, before, key)
    assert_healthy(host)
