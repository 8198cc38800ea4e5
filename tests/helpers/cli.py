"""Running `python -m hardening` the way an operator does: the one runner (`run_cli`), its one
result type (`Outcome`), a run in the background (`Running`) and the command line for one host
(`Cli`). Every level that runs the CLI as a subprocess uses these.
"""

from __future__ import annotations

import json
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.testhosts.loopback import LOOPBACK

ROOT = Path(__file__).resolve().parents[2]
_VENV_PYTHON = ROOT / "venv" / "bin" / "python"
PYTHON = str(_VENV_PYTHON if _VENV_PYTHON.exists() else Path(sys.executable))


@dataclass(frozen=True)
class Outcome:
    """What one CLI run left: exit code, stdout, stderr."""

    code: int
    stdout: str
    stderr: str
    argv: tuple[str, ...] = ()  # the whole command line, for describe()

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def run_cli(
    argv: list[str], *, env: Mapping[str, str] | None = None, timeout: float = 300
) -> Outcome:
    """`python -m hardening ARGV...` from the project root, as a user runs it."""
    command = (PYTHON, "-m", "hardening", *argv)
    proc = subprocess.run(
        command,
        cwd=ROOT,
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr, command)


class Running:
    """A CLI run in the background whose progress lines (stderr) can be waited for."""

    def __init__(self, argv: list[str], *, env: Mapping[str, str] | None = None) -> None:
        self.command = (PYTHON, "-m", "hardening", *argv)
        self.proc = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stdout: list[str] = []
        self._threads = [
            threading.Thread(target=self._pump_stderr, daemon=True),
            threading.Thread(target=self._pump_stdout, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._lines.put(line)
        self._lines.put(None)

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        self._stdout.append(self.proc.stdout.read())

    def wait_for(self, marker: str, timeout: float = 90.0) -> str:
        """Block until a progress line contains `marker`; return that line."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no progress line with {marker!r} within {timeout:g}s: {self.lines}"
                ) from None
            if line is None:
                self._lines.put(None)  # keep the end marker for finish()
                raise AssertionError(f"the CLI ended before printing {marker!r}:\n{self.finish()}")
            self.lines.append(line)
            if marker in line:
                return line

    def kill(self) -> None:
        """SIGKILL the CLI (its own PID: we started it) and reap it."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def finish(self, timeout: float = 300) -> Outcome:
        code = self.proc.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout=30)
        while True:
            line = self._lines.get(timeout=30)
            if line is None:
                break
            self.lines.append(line)
        return Outcome(code, "".join(self._stdout), "".join(self.lines), self.command)


@dataclass(frozen=True)
class Cli:
    """The command line a user types for one test host (known_hosts in a temp dir)."""

    port: int
    identity: Path
    known_hosts: Path
    user: str = "root"
    host: str = LOOPBACK

    def argv(
        self,
        action: str,
        *extra: str,
        wait: float = 5,
        confirm_timeout: int = 10,
        accept_new: bool = True,
    ) -> list[str]:
        argv = [
            action,
            "--host", self.host,
            "--port", str(self.port),
            "--user", self.user,
            "--identity", str(self.identity),
            "--known-hosts", str(self.known_hosts),
            "--wait", f"{wait:g}",
            "--confirm-timeout", str(confirm_timeout),
        ]  # fmt: skip
        if accept_new:
            argv.append("--accept-new-host-key")
        return [*argv, *extra]

    def run(
        self,
        action: str,
        *extra: str,
        wait: float = 5,
        confirm_timeout: int = 10,
        accept_new: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> Outcome:
        argv = self.argv(
            action, *extra, wait=wait, confirm_timeout=confirm_timeout, accept_new=accept_new
        )
        return run_cli(argv, env=env)

    def start(
        self, action: str, *extra: str, wait: float = 5, confirm_timeout: int = 10
    ) -> Running:
        return Running(self.argv(action, *extra, wait=wait, confirm_timeout=confirm_timeout))


def describe(out: Outcome) -> str:
    """A CLI run, for assertion messages: its command line, exit code and output."""
    return (
        f"\n$ {shlex.join(out.argv)}\nexit {out.code}\n"
        f"--- stdout\n{out.stdout}--- stderr\n{out.stderr}"
    )


def cli_json(out: Outcome) -> dict[str, Any]:
    """The one JSON object `--json` prints on stdout."""
    try:
        report = json.loads(out.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"stdout is not one JSON object ({exc}){describe(out)}") from None
    if not isinstance(report, dict):
        raise AssertionError(f"expected a JSON object{describe(out)}")
    return report


def must(out: Outcome, code: int = 0) -> Outcome:
    """Assert the exit code, with the whole run in the message."""
    assert out.code == code, f"expected exit {code}{describe(out)}"
    return out
