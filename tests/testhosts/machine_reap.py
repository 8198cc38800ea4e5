"""Cleaning up after systemd-booted test hosts: their cgroups, overlays and state, and the
hosts of test processes that died (found by recorded PID + start time only).

Stopping is by PID only: SIGKILL to the container's PID 1 (its PID namespace dies with it;
killing nspawn alone leaves the container running), then the overlay, the cgroups and nspawn's
propagation directory are removed (tests/testhosts/machine.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Final

from tests.testhosts import network
from tests.testhosts.procs import (
    TestHostError,
    proc_stat,
    remove_tree,
    take_over_abandoned,
    unmount_all_under,
)

STATE_DIR: Final = Path(
    os.environ.get("HARDENED_ECS_NSPAWN_DIR", "/var/tmp/hardened-ecs/nspawn-hosts")
)
CGROUP_ROOTS: Final = (Path("/sys/fs/cgroup/systemd"), Path("/sys/fs/cgroup/unified"))
CGROUP_NAME: Final = "hardened-ecs-testhosts"
PROPAGATE_DIR: Final = Path("/run/systemd/nspawn/propagate")
NAME_PREFIX: Final = network.HOST_PREFIX  # machine names: hecs<bridge index>-<n>


def owner_record() -> dict[str, int]:
    st = proc_stat(os.getpid())
    return {"owner_pid": os.getpid(), "owner_start": st.start if st else 0}


def _remove_cgroup(path: Path) -> None:
    """rmdir a cgroup and what systemd made below it, deepest first (they must be empty)."""
    if not path.is_dir():
        return
    for sub in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            sub.rmdir()
    with contextlib.suppress(OSError):
        path.rmdir()


def _cgroup_pids(path: Path) -> set[int]:
    pids: set[int] = set()
    if path.is_dir():
        for procs in path.rglob("cgroup.procs"):
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(p) for p in procs.read_text().split())
    return pids


def kill_cgroup(path: Path, limit: float = 30.0) -> None:
    """SIGKILL every process left in a host's own cgroup: only what we started is in it
    (the launcher, nspawn and the container), so nothing can outlive a host unnoticed."""
    deadline = time.monotonic() + limit
    while pids := _cgroup_pids(path):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise TestHostError(f"processes survive in {path}: {sorted(pids)}")
        time.sleep(0.05)


def cleanup(name: str, state: Path) -> None:
    kill_cgroup(CGROUP_ROOTS[0] / CGROUP_NAME / name)
    # nspawn's veth normally dies with the container's namespace; not if the boot failed.
    subprocess.run(["ip", "link", "del", f"vb-{name}"], capture_output=True, check=False)
    for root in CGROUP_ROOTS:
        _remove_cgroup(root / CGROUP_NAME / name)
    remove_tree(PROPAGATE_DIR / name)
    unmount_all_under(state)
    remove_tree(state)


def reap_stale() -> int:
    """Stop hosts and drop bridges left by test processes that died (by recorded PID +
    start time only); return how many."""
    reaped = network.reap_stale()
    if not STATE_DIR.is_dir():
        return reaped
    for d in STATE_DIR.iterdir():
        if not re.match(rf"{NAME_PREFIX}\d+-\d+-", d.name):
            continue  # not one of ours
        owner = take_over_abandoned(d)
        if owner is None:
            continue
        cleanup(str(owner.get("name", d.name)), d)
        reaped += 1
    return reaped
