"""Moving sshd's port on systemd-booted hosts (issue 21): 22 -> 2222 -> 2200 -> 22 as one
transaction each, a reboot keeping it, and the new port dropped by the host's own nftables.

What counts is what the host shows: a fresh login with the system's ssh on the new port and
none on the old, `sshd -T` printing one port, the sockets listening inside the host.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import ClientKeys
from tests.helpers.cli import Cli, Outcome, describe
from tests.helpers.systemd_observe import ADMIN, assert_healthy, lock_gone, poll
from tests.testhosts.client import ssh
from tests.testhosts.fixtures import SystemdFactory
from tests.testhosts.machine import SystemdHost
from tests.testhosts.network import fault_rules

CONFIRM = 20  # seconds the host waits for the confirmation before it rolls back


def _cli(host: SystemdHost, key: Path, tmp_path: Path, port: int, user: str = ADMIN) -> Cli:
    return Cli(port, key, tmp_path / "known_hosts", user, host=host.address)


def _move(cli: Cli, to: int) -> Outcome:
    out = cli.run("apply", "--json", "--set", f"Port={to}", wait=30, confirm_timeout=CONFIRM)
    assert out.code == 0, describe(out)
    report = json.loads(out.stdout)
    assert report["port"] == to and report["changed"], describe(out)
    return out


def _logs_in(host: SystemdHost, key: Path, port: int) -> bool:
    """True: a login on `port` worked. False: refused there (nothing listens). Else raises."""
    proc = ssh(host.address, ADMIN, key, port=port, connect_timeout=5)
    if proc.returncode == 0:
        return True
    if "Connection refused" in proc.stderr:
        return False
    raise AssertionError(f"ssh -p {port}: {proc.stderr}")


def _sshd_ports(host: SystemdHost) -> set[int]:
    """The TCP ports sshd (or systemd, for its socket) listens on inside the host."""
    out = host.run("ss -ltnpH", check=True).stdout
    owner = '"systemd"' if host.socket_activated else '"sshd'
    return {
        int(m.group(1))
        for line in out.splitlines()
        if owner in line and (m := re.search(r":(\d+)\s", line)) is not None
    }


def assert_on(host: SystemdHost, key: Path, port: int, old: int) -> None:
    assert _logs_in(host, key, port), f"no login on {port}"
    assert not _logs_in(host, key, old), f"still a login on {old}"
    assert host.sshd_effective(ADMIN)["port"] == str(port)
    assert _sshd_ports(host) == {port}
    assert host.run("ls -A /var/lib/hardened-ecs/lock 2>/dev/null").stdout == ""


VARIANTS = {
    "ssh.service": {},
    "no-Include": {"include": False},
    "ssh.socket": {"socket_activated": True},
    "KillUserProcesses": {"kill_user_processes": True},
}
CASES = [("trixie", v) for v in VARIANTS] + [("bullseye", "ssh.socket")]  # Accept=yes there


@pytest.mark.parametrize(("suite", "variant"), CASES, ids=[f"{s}-{v}" for s, v in CASES])
def test_port_moves_22_2222_2200_22_and_a_reboot_keeps_it(
    systemd_factory: SystemdFactory,
    client_keys: ClientKeys,
    tmp_path: Path,
    suite: str,
    variant: str,
) -> None:
    host = systemd_factory(suite, **VARIANTS[variant])
    key = client_keys.ed25519
    # The image's own Port line stays, set aside: sshd adds every Port line it reads.
    reload = "" if host.socket_activated else " && systemctl reload ssh"
    host.run(f"sed -i '1i Port 22' /etc/ssh/sshd_config{reload}", check=True)
    first = _move(_cli(host, key, tmp_path, 22, user="root"), 2222)
    assert "sshd moved from port 22 to 2222" in first.stdout, describe(first)
    assert_on(host, key, 2222, 22)
    assert "#hardened-ecs-moved-port# Port 22" in host.run("cat /etc/ssh/sshd_config").stdout
    # known_hosts now has the same key as OpenSSH names a port other than 22.
    known = (tmp_path / "known_hosts").read_text().splitlines()
    assert any(ln.startswith(f"[{host.address}]:2222 ssh-ed25519 ") for ln in known), known
    # check and plan on the new port: known_hosts is enough, no --accept-new-host-key.
    cli = _cli(host, key, tmp_path, 2222)
    check = cli.run("check", "--set", "Port=2222", accept_new=False)
    assert check.code == 0, describe(check)
    again = cli.run("apply", "--set", "Port=2222", wait=30)
    assert again.code == 0 and "nothing to change" in again.stderr, describe(again)

    host.reboot()
    poll("sshd after the reboot", lambda: _logs_in(host, key, 2222), timeout=60)
    assert_on(host, key, 2222, 22)

    _move(cli, 2200)
    assert_on(host, key, 2200, 2222)
    _move(_cli(host, key, tmp_path, 2200), 22)
    assert_on(host, key, 22, 2200)
    assert_healthy(host)


@pytest.mark.parametrize("variant", ["ssh.service", "ssh.socket"])
def test_new_port_dropped_by_the_hosts_firewall_rolls_back_to_the_old_port(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path, variant: str
) -> None:
    host = systemd_factory("trixie", **VARIANTS[variant])
    key = client_keys.ed25519
    host.nft(fault_rules(port=2222))
    out = _cli(host, key, tmp_path, 22, user="root").run(
        "apply", "--set", "Port=2222", wait=30, confirm_timeout=CONFIRM
    )
    assert out.code == 4, describe(out)
    assert "no answer on 2222 within" in out.stdout, describe(out)
    assert "a firewall (cloud security group or host) drops it?" in out.stdout, describe(out)
    assert "rolled back" in out.stdout, describe(out)
    assert lock_gone(host)
    host.heal()
    assert host.sshd_effective()["port"] == "22"
    assert _sshd_ports(host) == {22}
    assert ssh(host.address, "root", key, port=22).returncode == 0
    assert ssh(host.address, "root", key, port=2222, connect_timeout=5).returncode != 0
    assert_healthy(host)
