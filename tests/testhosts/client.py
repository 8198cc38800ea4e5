"""SSH from this machine to a test host at its own address (the system OpenSSH client).

Host keys are not checked (every test host has fresh ones); key authentication only, so a
login that must fail cannot pass because of an agent or another key. `source` binds the
client to a probe address (network.Bridge.probe_address) for logins meant to fail.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from tests.testhosts.procs import TestHostError

_OPTIONS: Final = (
    "BatchMode=yes",  # never prompt
    "IdentitiesOnly=yes",  # only the key given, so MaxAuthTries cannot be spent on others
    "IdentityAgent=none",
    "PreferredAuthentications=publickey",
    "StrictHostKeyChecking=no",  # tests only: every test host has fresh host keys
    "UserKnownHostsFile=/dev/null",
    "GlobalKnownHostsFile=/dev/null",
    "LogLevel=ERROR",
)


class LoginError(TestHostError):
    """ssh failed for a reason other than a rejected authentication."""


def ssh(
    address: str,
    user: str,
    key: str | Path,
    command: str = "true",
    *,
    port: int | None = None,
    source: str | None = None,
    options: Sequence[str] = (),
    timeout: float | None = 60,
    connect_timeout: int = 10,
) -> subprocess.CompletedProcess[str]:
    """`ssh` with the system client, key auth only; port 22 unless `port` (the chroot hosts)."""
    args = ["ssh", "-F", "/dev/null", *(["-p", str(port)] if port is not None else [])]
    args += ["-i", str(key)]
    for opt in (*_OPTIONS, f"ConnectTimeout={connect_timeout}", *options):
        args += ["-o", opt]
    if source is not None:
        args += ["-b", source]
    return subprocess.run(
        [*args, f"{user}@{address}", command],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def try_login(address: str, user: str, key: str | Path, *, source: str | None = None) -> bool:
    """True: logged in and ran a command. False: authentication rejected. Anything else
    (refused, timed out, no common algorithm) raises, so "must fail" cannot pass on a dead
    server."""
    for attempt in range(1, 4):
        proc = ssh(address, user, key, source=source)
        if proc.returncode == 0:
            return True
        if "Permission denied" in proc.stderr or "Too many authentication failures" in proc.stderr:
            return False
        # Debian 11's per-connection ssh@.service removes /run/sshd when it ends, and the next
        # connection's sshd, started that moment, exits before its banner (README, Known
        # limits): that host's race, not an answer. Anything else, or three in a row, raises.
        if "kex_exchange_identification" not in proc.stderr or attempt == 3:
            break
        time.sleep(0.5)
    raise LoginError(f"ssh {user}@{address} failed ({proc.returncode}): {proc.stderr.strip()}")


def wait_login(address: str, user: str, key: str | Path, *, limit: float = 60) -> None:
    """Retry until `user` logs in (a host that is still booting or healing)."""
    deadline = time.monotonic() + limit
    last = ""
    while time.monotonic() < deadline:
        proc = ssh(address, user, key, timeout=20)
        if proc.returncode == 0:
            return
        last = proc.stderr.strip()
        time.sleep(0.5)
    raise LoginError(f"{user}@{address} never logged in: {last}")
