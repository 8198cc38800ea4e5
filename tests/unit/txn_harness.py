"""txn.sh without a host: the library Python sends, run by `sh` over a temporary root.

A sandbox is a directory that stands for `/`: the state directory, the files a case stages,
the privilege separation directory and the pidfile are inside it, and its `bin/` comes first
on the script's PATH with a fake `sshd` (-t refuses a config holding a line `Bad...`, -T prints
the file, or without -f the main one, as sshd -T would: keys lower-case) and fake
reload/restart commands that log a line. The script's SSH_CONNECTION comes from 127.0.0.1; a
call's {digest} is the last validation's.
Under root the script runs as nobody (setpriv) in a sandbox nobody owns: it can reach nothing
else. Steps are built by hardening/change/protocol.py exactly as the Transaction sends them (header,
library or the lock's copy, `txn MODE ARGS` lines) and read back through its one parser.

A case (txn_cases/*.toml) is a setup and a sequence of steps, each a list of calls and what
must follow: exit status, the parsed reply, files (content, or false: absent), their modes,
the lock directory, and the lines the fake reload/restart logged. In a call, {user} and {group}
name the user the script runs as (the one owner it may chown a file to).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardening.change import protocol
from hardening.change.protocol import Mode, Reply
from hardening.host import shell
from hardening.host.paths import BACKUP_SUFFIX, CANDIDATE_SUFFIX

CASES = Path(__file__).with_name("txn_cases")
STATE = "var/lib/hardened-ecs"
NOBODY = 65534

_FAKE_SSHD = """\
#!/bin/sh
# sshd -t -f FILE | -T [-f FILE] -C SPEC, answered from FILE (the main file without -f).
[ -d "{root}/run/sshd" ] || {
  echo "Missing privilege separation directory: {root}/run/sshd" >&2; exit 255; }
mode=$1; file=$3
[ "$2" = -f ] || file="{root}/etc/ssh/sshd_config"
bad=$(grep -n '^Bad' "$file" | head -n 1)
[ -z "$bad" ] || {
  echo "$file line ${bad%%:*}: Bad configuration option: ${bad#*:}" >&2; exit 255; }
[ "$mode" = -T ] && awk 'NF && $1 !~ /^#/ { $1 = tolower($1); print }' "$file"
exit 0
"""
# A command that logs its name, and fails when the case made a file `fail-NAME`.
_FAKE_COMMAND = """\
#!/bin/sh
echo {name} >> "{root}/log"
[ ! -e "{root}/fail-{name}" ]
"""
_REFUSE = """\
#!/bin/sh
echo "{name}: not in the harness" >&2; exit 99
"""


@dataclass
class Step:
    reply: Reply
    sent_whole: bool
    log: list[str]


class Sandbox:
    """A temporary root and the fakes in it; `run` sends one step as the Transaction would."""

    def __init__(self, root: Path, token: str = "harness") -> None:
        self.root = root
        self.token = token
        self.drop = os.geteuid() == 0  # run the script as nobody
        self.listener: subprocess.Popen[bytes] | None = None
        self.digest = ""  # the last validation's, for a call's {digest}
        self.watchers: set[int] = set()  # their process groups (setsid: the watcher's PID)
        for d in ("bin", "etc/ssh/sshd_config.d", "run/sshd", STATE.rsplit("/", 1)[0]):
            (root / d).mkdir(parents=True, exist_ok=True)
        self._tool("sshd", _FAKE_SSHD.replace("{root}", str(root)))
        for name in ("reload", "restart"):
            self._tool(name, _FAKE_COMMAND.format(name=name, root=root))
        for name in ("systemctl", "systemd-run"):
            self._tool(name, _REFUSE.format(name=name))
        (root / "log").touch()
        self.shell = shell.HostShell(
            PATH=f"{root}/bin:/usr/bin:/bin",
            PRIVSEP_DIR=f"{root}/run/sshd",
            PID_FILES=f"{root}/run/sshd.pid",
        )

    def _tool(self, name: str, text: str) -> None:
        path = self.root / "bin" / name
        path.write_text(text)
        path.chmod(0o755)

    def path(self, rel: str) -> Path:
        return self.root / rel

    def _as_user(self) -> list[str]:
        if not self.drop:
            return []
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]

    def give_away(self) -> None:
        """Under root: the sandbox belongs to nobody, who runs the script."""
        if not self.drop:
            return
        for top, dirs, files in os.walk(self.root):
            for name in [top, *(os.path.join(top, n) for n in dirs + files)]:
                os.lchown(name, NOBODY, NOBODY)

    def start_listener(self) -> None:
        """A live process in the pidfile: what the script takes for sshd's listener."""
        self.listener = subprocess.Popen([*self._as_user(), "sleep", "3600"])
        self.path("run/sshd.pid").write_text(f"{self.listener.pid}\n")

    def header(self, **overrides: Any) -> protocol.Header:
        values: dict[str, Any] = {
            "STATE": f"{self.root}/{STATE}",
            "TOKEN": self.token,
            "CHECK": f"{self.root}/etc/ssh/.sshd_config.hardened-ecs-check",
            "CHECK_SPEC": "user=ops,host=127.0.0.1,addr=127.0.0.1",
            "RELOAD": f"{self.root}/bin/reload",
            "RESTART": f"{self.root}/bin/restart",
            "WATCHER": "setsid",
            "CONFIRM_TIMEOUT": 3600,
            "LEASE": 120,
            "NEW_SUFFIX": CANDIDATE_SUFFIX,
            "OLD_SUFFIX": BACKUP_SUFFIX,
        }
        return protocol.Header(**(values | overrides))

    def run(
        self, calls: list[list[Any]], *, whole: bool, resend: bool = True, **header: Any
    ) -> Step:
        """One step of `calls` ([mode, args...]) under the header, as the Transaction sends
        it (the library whole, or the lock's copy, sent again whole when that is gone)."""
        body = "".join(protocol.call(Mode(c[0]), *(self._arg(a) for a in c[1:])) for c in calls)
        commit = any(c[0] == Mode.COMMIT.value for c in calls)
        head = self.header(**header).text(writes_watcher=commit)
        logged = len(self.path("log").read_text().splitlines())
        token = header.get("TOKEN", self.token)
        reply = self._send(protocol.command(head, body, whole=whole, shell=self.shell), token)
        sent_whole = whole
        if reply.resend and resend:
            sent_whole = True
            reply = self._send(protocol.command(head, body, whole=True, shell=self.shell), token)
        log = self.path("log").read_text().splitlines()[logged:]
        self.digest = reply.digest or self.digest
        if commit:
            self.watchers |= self._started_watchers()
        return Step(reply, sent_whole, log)

    def _started_watchers(self) -> set[int]:
        """The watchers running this sandbox's watch.sh (alive until their timeout)."""
        script = f"{self.root}/{STATE}/lock/watch.sh".encode()
        found = set()
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and script in (proc / "cmdline").read_bytes():
                    found.add(int(proc.name))
            except OSError:
                continue
        return found

    def _arg(self, arg: str | dict[str, str]) -> str:
        """A call's argument: {b64 = TEXT} is sent as base64, {root} is the sandbox."""
        if isinstance(arg, dict):
            return shell.b64(arg["b64"])
        uid, gid = (NOBODY, NOBODY) if self.drop else (os.geteuid(), os.getegid())
        return (
            arg.replace("{root}", str(self.root))
            .replace("{digest}", self.digest)
            .replace("{user}", pwd.getpwuid(uid).pw_name)
            .replace("{group}", grp.getgrgid(gid).gr_name)
        )

    def _send(self, script: str, token: str) -> Reply:
        env = {
            "PATH": "/usr/bin:/bin",
            "LC_ALL": "C",
            "SSH_CONNECTION": "127.0.0.1 50022 127.0.0.1 22",
        }
        done = subprocess.run(
            [*self._as_user(), "sh", "-s"],
            input=script,
            capture_output=True,
            text=True,
            env=env,
            cwd=self.root,
            timeout=60,
            check=False,
        )
        return protocol.parse(done.stdout, done.stderr, done.returncode, token)

    def stop(self) -> None:
        """End what the script left running: the rollback watchers the commits started (each
        a process group of its own: the watcher, its sleep, which a confirm leaves behind)
        and the fake listener."""
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and os.getpgid(int(proc.name)) in self.watchers:
                    os.kill(int(proc.name), signal.SIGTERM)
            except OSError:
                continue
        if self.listener is not None:
            self.listener.terminate()
            self.listener.wait()


@contextmanager
def sandbox(token: str = "harness") -> Iterator[Sandbox]:
    # Not under pytest's tmp_path: nobody must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="txn-harness-"))
    box = Sandbox(root, token)
    try:
        yield box
    finally:
        box.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- cases ----------------------------------------------------------------------------------


def load_cases() -> dict[str, dict[str, Any]]:
    return {p.stem: tomllib.loads(p.read_text()) for p in sorted(CASES.glob("*.toml"))}


def set_up(box: Sandbox, case: dict[str, Any]) -> None:
    for rel, content in case.get("files", {}).items():
        path = box.path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content.replace("{root}", str(box.root)))
    for rel, mode in case.get("modes", {}).items():
        box.path(rel).chmod(int(mode, 8))
    for rel in case.get("fails", []):
        box.path(f"fail-{rel}").touch()
    privsep = case.get("privsep", "present")
    if privsep != "present":
        box.path("run/sshd").rmdir()
    if privsep == "unmakeable":  # its parent is a file: mkdir cannot make it
        box.path("run").rename(box.path("run.d"))
        box.path("run").write_text("")
    if case.get("listener", False):
        box.start_listener()
    box.give_away()


def check_step(box: Sandbox, step: dict[str, Any], got: Step) -> list[str]:
    """What differs from the step's `expect`; [] when all of it holds."""
    want, reply = step.get("expect", {}), got.reply
    wrong = []

    def differs(name: str, value: object, expected: object) -> None:
        if value != expected:
            wrong.append(f"{name}: {value!r}, expected {expected!r}")

    differs("exit", reply.status, want.get("exit", 0))
    if "unproven" in want and want["unproven"] not in (reply.unproven or ""):
        wrong.append(f"unproven: {reply.unproven!r} does not say {want['unproven']!r}")
    for flag in ("locked", "confirmed", "rolled_back", "resend"):
        if flag in want:
            differs(flag, getattr(reply, flag), want[flag])
    if "state" in want:
        differs("state", reply.state.value, want["state"])
    if "committed" in want:
        differs("committed", reply.committed is not None, want["committed"])
    if "then_status" in want:
        differs("then_status", reply.then.status if reply.then else None, want["then_status"])
    if "candidate" in want:
        lines = None if reply.candidate is None else reply.candidate.splitlines()
        if want["candidate"] is False:
            differs("candidate", lines, None)
        elif lines is None or not set(want["candidate"]) <= set(lines):
            wrong.append(f"candidate: {lines!r} lacks {want['candidate']!r}")
    if "stderr" in want and want["stderr"] not in reply.stderr:
        wrong.append(f"stderr: {reply.stderr!r} does not say {want['stderr']!r}")
    if "sent_whole" in want:
        differs("sent_whole", got.sent_whole, want["sent_whole"])
    if "log" in want:
        differs("log", got.log, want["log"])
    if "lock" in want:
        differs("lock", box.path(f"{STATE}/lock").is_dir(), want["lock"])
    for rel, mode in want.get("modes", {}).items():
        differs(f"mode of {rel}", format(box.path(rel).stat().st_mode & 0o7777, "o"), mode)
    for rel, content in want.get("files", {}).items():
        path = box.path(rel)
        have = path.read_text() if path.is_file() else False
        differs(rel, have, content.replace("{root}", str(box.root)) if content else content)
    return wrong


def run_case(case: dict[str, Any]) -> list[str]:
    """Every step of a case in one sandbox; what went wrong, step by step."""
    wrong: list[str] = []
    with sandbox() as box:
        set_up(box, case)
        for n, step in enumerate(case["steps"], 1):
            for rel in step.get("remove", []):
                box.path(rel).unlink()
            calls = step["calls"]
            whole = step.get("whole", calls[0][0] == Mode.LOCK.value)
            header = {k.upper(): v for k, v in step.get("header", {}).items()}
            got = box.run(calls, whole=whole, resend=step.get("resend", True), **header)
            wrong += [f"step {n} ({calls[0][0]}...): {w}" for w in check_step(box, step, got)]
    return wrong
