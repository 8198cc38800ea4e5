"""Process, mount and leak-guard helpers shared by the test-host modules.

A process is named by (pid, start time) so that a recycled PID is never killed by mistake.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar


class TestHostError(RuntimeError):
    """A test host could not be built, started or stopped."""

    __test__ = False


@dataclass(frozen=True)
class ProcStat:
    state: str
    ppid: int
    start: int  # clock ticks since boot


def proc_stat(pid: int) -> ProcStat | None:
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rindex(")") + 2 :].split()  # comm may hold spaces and parentheses
    return ProcStat(state=rest[0], ppid=int(rest[1]), start=int(rest[19]))


def alive(pid: int, start: int) -> bool:
    st = proc_stat(pid)
    return st is not None and st.start == start and st.state != "Z"


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def children(pid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st is not None and st.ppid == pid:
                out.append(int(name))
    return out


def wait_gone(pid: int, start: int, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while alive(pid, start):
        if time.monotonic() > deadline:
            raise TestHostError(f"pid {pid} survived SIGKILL")
        time.sleep(0.02)


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` in this mount namespace, deepest first."""
    prefix = str(path).rstrip("/")
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        target = line.split()[1]
        if target == prefix or target.startswith(prefix + "/"):
            found.append(target)
    return sorted(found, key=len, reverse=True)


def unmount_all_under(path: Path) -> None:
    for target in mounts_under(path):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)
    left = mounts_under(path)
    if left:
        raise TestHostError(f"still mounted, refusing to delete {path}: {left}")


def remove_tree(path: Path) -> None:
    if not path.exists():
        return
    unmount_all_under(path)  # never let rmtree walk into a live /proc or an overlay
    shutil.rmtree(path)


def in_main_thread() -> bool:
    # A parent-death signal fires when the forking *thread* exits.
    return threading.current_thread() is threading.main_thread()


class Stoppable(Protocol):
    def stop(self) -> None: ...


_H = TypeVar("_H", bound=Stoppable)


class LiveHosts(Generic[_H]):
    """The hosts this process runs; those a test did not stop are stopped at exit (a leak
    guard beside the parent-death signal)."""

    def __init__(self, label: str) -> None:
        self._label = label  # who says a stop failed: "testhost", "testhosts"
        self._hosts: set[_H] = set()
        self._lock = threading.Lock()
        atexit.register(self.stop_all)

    def add(self, host: _H) -> None:
        with self._lock:
            self._hosts.add(host)

    def discard(self, host: _H) -> None:
        with self._lock:
            self._hosts.discard(host)

    def stop_all(self) -> None:
        with self._lock:
            hosts = list(self._hosts)
        for host in hosts:
            try:
                host.stop()
            except Exception as exc:  # keep stopping the others
                print(f"{self._label}: stopping {host!r} failed: {exc}", file=sys.stderr)


class Lifetime:
    """`with host:` starts a host (unless it runs) and stops it, pass or fail."""

    state_dir: Path | None

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        if self.state_dir is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def take_over_abandoned(state_dir: Path) -> dict[str, Any] | None:
    """The owner record of a host's state dir whose test process died, its host's init killed
    (only if it is still the very process that was started: PID and start time) and gone;
    None while the dir is in use, or being created right now by someone else."""
    try:
        owner: dict[str, Any] = json.loads((state_dir / "owner.json").read_text())
    except (OSError, ValueError):
        if time.time() - state_dir.stat().st_mtime < 600:
            return None  # being created right now
        return {}  # garbage from a crash long ago
    if owner and alive(int(owner["owner_pid"]), int(owner["owner_start"])):
        return None
    if owner.get("init_pid") and alive(int(owner["init_pid"]), int(owner["init_start"])):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(owner["init_pid"]), signal.SIGKILL)
        wait_gone(int(owner["init_pid"]), int(owner["init_start"]))
    return owner
