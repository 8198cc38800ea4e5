"""Observing systemd test hosts from outside, for the proofs in test_systemd_*.py.

What counts is what the host shows: its files, `sshd -T`, its units, its journal and a real
login from this machine — never the engine's own report. The CLI runners (`Cli`, `Running`)
and the independent baseline come from tests/helpers/cli.py and tests/helpers/fault_proofs.py.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tests.helpers.cli import Cli
from tests.helpers.fault_proofs import assert_same_sshd, is_complete_new, poll, read_snapshot
from tests.testhosts.client import try_login, wait_login
from tests.testhosts.machine import SystemdHost

ADMIN: Final = "ops"
LOCK: Final = "/var/lib/hardened-ecs/lock"
STATE: Final = "/var/lib/hardened-ecs"
DROPIN: Final = "/etc/ssh/sshd_config.d/00-hardened-ecs.conf"
# A fresh connection must still work this long after the apply (socket re-spawns, restarts
# on failure and logind's clean-up all happen within it).
LATER: Final = 30.0

_SNAPSHOT: Final = r"""
for f in /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*; do
  [ -f "$f" ] && echo "file $f $(sha256sum < "$f" | cut -d' ' -f1)"
done
find /etc/ssh /etc/sudoers.d -name '*hardened-ecs*' ! -name 00-hardened-ecs.conf \
  ! -name 90-hardened-ecs-ops ! -name 01-hardened-ecs-boot.conf | sed 's/^/leftover /'
[ -e /var/lib/hardened-ecs/lock ] && echo "leftover /var/lib/hardened-ecs/lock"
exit 0
"""


@dataclass(frozen=True)
class Snapshot:
    files: dict[str, str]  # sshd_config and every drop-in -> sha256
    leftovers: tuple[str, ...]  # candidates, backups, the transaction lock
    effective: dict[str, str]  # `sshd -T` for root from the bridge's gateway


def snapshot(host: SystemdHost) -> Snapshot:
    files, leftovers, _ = read_snapshot(host.run(_SNAPSHOT, check=True).stdout)
    return Snapshot(files, leftovers, host.sshd_effective())


def cli_for(host: SystemdHost, key: Path, tmp_path: Path, user: str = "root") -> Cli:
    return Cli(22, key, tmp_path / f"known_hosts-{host.name}", user, host=host.address)


def ssh_unit(host: SystemdHost) -> str:
    """The unit that owns sshd's listener: ssh.socket when socket-activated."""
    return "ssh.socket" if host.socket_activated else "ssh.service"


def journal_cursor(host: SystemdHost) -> str:
    out = host.run("journalctl -b -n 0 --show-cursor --no-pager").stdout
    m = re.search(r"-- cursor: (\S+)", out)
    assert m is not None, out
    return m.group(1)


def ssh_journal(host: SystemdHost, since: str | None = None) -> str:
    after = ["--after-cursor", since] if since else []
    return host.journal("-u", "ssh.service", "-u", "ssh.socket", *after)


def assert_healthy(host: SystemdHost, since: str | None = None) -> None:
    """sshd runs under systemd as the image means it to, nothing failed, nothing fatal."""
    assert host.is_active(ssh_unit(host)) == "active", host.run("systemctl status ssh").stdout
    assert host.failed_units() == [], host.run("systemctl --failed").stdout
    log = ssh_journal(host, since)
    # The listener's own fatal errors; a client that vanished mid-handshake (sshd-session:
    # ssh_dispatch_run_fatal ... [preauth]) is that client's business.
    for bad in (r"\bsshd\[\d+\]: fatal:", r"Failed with result", r"Reload failed"):
        assert not re.search(bad, log), f"{bad!r} in the journal:\n{log}"


def assert_new(host: SystemdHost, key: Path) -> None:
    now = snapshot(host)
    assert now.leftovers == (), f"left behind on the host: {now.leftovers}"
    problems = is_complete_new(now.effective, {})
    assert not problems, problems
    assert try_login(host.address, ADMIN, key), f"{ADMIN} cannot log in"


def assert_old(host: SystemdHost, before: Snapshot, key: Path) -> None:
    now = snapshot(host)
    assert_same_sshd(now.files, now.leftovers, now.effective, before.files, before.effective)
    assert try_login(host.address, "root", key), "root's key login no longer works"


def login_later(host: SystemdHost, user: str, key: Path, since: float | None = None) -> None:
    """A fresh connection still works LATER seconds after `since` (time.monotonic(); default
    now) — a wait, not a timed assertion."""
    start = time.monotonic() if since is None else since
    time.sleep(max(0.0, start + LATER - time.monotonic()))
    wait_login(host.address, user, key, limit=10)


def main_pid(host: SystemdHost, unit: str = "ssh.service") -> int:
    return int(host.run(f"systemctl show -p MainPID --value {unit}").stdout.strip() or 0)


def lock_gone(host: SystemdHost) -> bool:
    return host.run(f"test -e {LOCK}").returncode != 0


__all__ = ["Cli", "poll"]
