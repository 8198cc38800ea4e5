"""Measuring one child process: whole-process wall time and that process's own peak RSS.

Peak RSS comes from `wait4()` on the very child (its own `ru_maxrss`), not from
`getrusage(RUSAGE_CHILDREN)`, which is the maximum over every child ever reaped and so would
report the largest earlier process for all later ones; and the child is started from a small
launcher process, not from the benchmark itself (see LAUNCHER).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


class BenchError(RuntimeError):
    """A measured command did not do what it must (the numbers would be meaningless)."""


@dataclass(frozen=True)
class ProcessSample:
    argv: tuple[str, ...]
    exit_code: int
    wall: float  # seconds, from just before fork to the child reaped
    max_rss_kib: int  # the child's own peak resident set (Linux: KiB)
    cpu: float  # the child's own user + system CPU seconds (and its reaped children's)
    stdout: str
    stderr: str

    @property
    def max_rss_mib(self) -> float:
        return self.max_rss_kib / 1024

    def describe(self) -> str:
        """For error messages: the command, its exit and the end of its output."""
        tail = (self.stdout[-1500:] + "\n" + self.stderr[-1500:]).strip()
        return f"`{' '.join(self.argv)}` exited {self.exit_code}:\n{tail}"


# Runs as `python -I -S -c LAUNCHER RESULT_FILE ARGV...`: forks, execs ARGV, reaps it with
# wait4() and writes "wall maxrss_kib utime stime status" to RESULT_FILE. A peak RSS read by
# wait4() is max(the process's own peak, the RSS of the address space it was exec'd from), and
# Python starts children with vfork (the parent's whole address space): measured straight from
# the benchmark (40-55 MiB itself) a bare `python -c pass` showed 55 MiB. From this small
# launcher (about 10 MiB) the figure is the child's own as soon as it is larger than that.
LAUNCHER = """
import os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - started
with open(out, "w") as f:
    f.write(f"{wall} {ru.ru_maxrss} {ru.ru_utime} {ru.ru_stime} {status}")
"""


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
) -> ProcessSample:
    """Run argv to completion; time it and read its own rusage (see LAUNCHER)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rusage") as result,
    ):
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", LAUNCHER, result.name, *argv],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # a timeout kills the launcher and the measured process
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise BenchError(f"`{' '.join(argv)}` ran longer than {timeout:g} s") from None
        fields = result.read().split()
        if proc.returncode != 0 or len(fields) != 5:
            raise BenchError(f"the launcher failed ({proc.returncode}) for `{' '.join(argv)}`")
        out.seek(0)
        err.seek(0)
        return ProcessSample(
            argv=tuple(argv),
            exit_code=os.waitstatus_to_exitcode(int(fields[4])),
            wall=float(fields[0]),
            max_rss_kib=int(fields[1]),
            cpu=float(fields[2]) + float(fields[3]),
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


# --------------------------------------------------------------------------- the machine


def _first(pattern: str, text: str, default: str = "unknown") -> str:
    m = re.search(pattern, text, re.MULTILINE)
    return m.group(1).strip() if m else default


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _command(argv: Sequence[str], cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, cwd=cwd, check=False)
    except OSError:
        return ""
    return (proc.stdout + proc.stderr).strip()


def machine_info(root: Path, test_host_openssh: str) -> dict[str, str]:
    """What the numbers were measured on, for RESULTS.md."""
    mem_kib = int(_first(r"^MemTotal:\s+(\d+)", _read("/proc/meminfo"), "0"))
    cpu = _first(r"^model name\s*:\s*(.+)$", _read("/proc/cpuinfo"), platform.processor())
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 0
    try:
        paramiko_version = metadata.version("paramiko")
    except metadata.PackageNotFoundError:
        paramiko_version = "not installed"
    commit = _command(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=root)
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": f"{usable} usable ({os.cpu_count()} online)",
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": f"{platform.system()} {platform.release()}",
        "os": _first(r'^PRETTY_NAME="?([^"\n]+)"?', _read("/etc/os-release")),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "paramiko": paramiko_version,
        "openssh_client": _first(r"(OpenSSH_\S+)", _command(["ssh", "-V"]), "none").rstrip(","),
        "openssh_test_hosts": test_host_openssh,
        "commit": commit or "unknown",
    }
