"""The transaction that applies a plan: stage, validate, arm rollback, commit, confirm/roll back.

The on-host half is scripts/txn.sh. Its rollback watcher is armed before any live file changes,
so a tool that dies or loses its connection leaves a host that restores itself after
`confirm_timeout` seconds. Backups are hard links next to the files (no extra disk space, and
the restore is a rename).
"""

from __future__ import annotations

import base64
import secrets
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass

from hardening.change.onhost import assign as _assign
from hardening.change.onhost import script as _script
from hardening.host.facts import parse_sshd_T
from hardening.host.paths import BACKUP_SUFFIX, CANDIDATE_SUFFIX, STATE_DIR
from hardening.model.errors import ApplyFailed, ConnectError
from hardening.planning.plan import Plan
from hardening.ssh.transport import Connection, Result

CHECK_FILE = "/etc/ssh/.sshd_config.hardened-ecs-check"
STAGE_LEASE = 120  # seconds a staged-but-uncommitted lock survives a vanished tool

# Exit codes of scripts/txn.sh, handed to it in its header (EXIT_INVALID=10 ...).
_EXIT_INVALID, _EXIT_NOT_BACK, _EXIT_BUSY, _EXIT_LOST, _EXIT_IO = 10, 11, 12, 13, 14


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# The marker line of txn.sh's heredoc: the script itself never holds this line.
_END_OF_LIBRARY = "HARDENED_ECS_TXN_LIBRARY_END"
_RESEND = "@resend"
# The admin step ran under the lock; its exit status follows (with our token: no output of
# the step can fake it).
_THEN_DONE = "@then-exit"
# Load the copy the lock left, if the lock is still ours (its owner line ends in our token).
_LOAD_KEPT = f"""\
_kept="$STATE/lock/txn.sh"
if [ "$(cut -d' ' -f3 "$STATE/lock/owner" 2>/dev/null)" = "$TOKEN" ] \\
   && _body=$(cat "$_kept" 2>/dev/null) && [ -n "$_body" ]; then
  eval "$_body"
else
  echo {_RESEND}; exit 0
fi
"""


def _inline_library() -> str:
    """txn.sh carried in the command itself, as `_body` (the lock keeps a copy of it)."""
    text = _script("txn.sh")
    if _END_OF_LIBRARY in text:
        raise RuntimeError(f"scripts/txn.sh holds its own end marker {_END_OF_LIBRARY}")
    return f"_body=$(cat <<'{_END_OF_LIBRARY}'\n{text}{_END_OF_LIBRARY}\n)\neval \"$_body\"\n"


class BusyError(ApplyFailed):
    """Another apply holds the host's transaction lock."""


@dataclass
class Transaction:
    """One apply on one host. `conn` is the original connection; verification opens its own."""

    conn: Connection
    plan: Plan
    check_spec: str  # sshd -T -C connection spec, e.g. user=ops,host=1.2.3.4,addr=1.2.3.4
    confirm_timeout: int
    token: str = ""

    def __post_init__(self) -> None:
        self.token = self.token or secrets.token_hex(8)

    def _header(self) -> str:
        return (
            _assign(
                STATE=STATE_DIR,
                TOKEN=self.token,
                CHECK=CHECK_FILE,
                CHECK_SPEC=self.check_spec,
                RELOAD=self.plan.service.reload,
                RESTART=self.plan.service.restart,
                WATCHER=self.plan.service.watcher,
                CONFIRM_TIMEOUT=self.confirm_timeout,
                LEASE=STAGE_LEASE,
                NEW_SUFFIX=CANDIDATE_SUFFIX,
                OLD_SUFFIX=BACKUP_SUFFIX,
                EXIT_INVALID=_EXIT_INVALID,
                EXIT_NOT_BACK=_EXIT_NOT_BACK,
                EXIT_BUSY=_EXIT_BUSY,
                EXIT_LOST=_EXIT_LOST,
                EXIT_IO=_EXIT_IO,
            )
            + "SSHD=$(command -v sshd || echo /usr/sbin/sshd)\n"
        )

    def _run(
        self,
        body: str,
        conn: Connection | None = None,
        step: str = "",
        *,
        whole: bool = False,
        writes_watcher: bool = False,
    ) -> tuple[int, str, str]:
        """Run `body` (txn.sh's modes) with txn.sh's functions defined.

        The lock carries txn.sh itself and leaves a copy in the lock directory; every later
        step sends only the header and a few lines that load that copy, and is sent again
        whole only when the copy is not there (the lock is not ours any more, or it is gone).
        Every step before sent the whole script: 7 kB, more than one TCP window at the commit.
        `whole`: send the script with this step (the lock's); `writes_watcher`: the step writes
        the rollback watcher (the commit's), which starts with this same header.
        """
        conn = conn or self.conn
        step = step or body.split()[0]
        header = self._header()
        if writes_watcher:
            header += f"WATCH_HEAD_B64={shlex.quote(_b64(header))}\n"
        if whole:
            return self._result(conn.run(header + _inline_library() + body, step=step))
        result = conn.run(header + _LOAD_KEPT + body, step=step)
        if result.stdout.startswith(_RESEND):
            result = conn.run(header + _inline_library() + body, step=f"{step} (sent whole)")
        return self._result(result)

    @staticmethod
    def _result(result: Result) -> tuple[int, str, str]:
        return result.status, result.stdout, result.stderr.strip()

    def lock(self, then: str = "", *, stage: bool = False) -> tuple[Result | None, Result | None]:
        """Take the host's transaction lock (the admin user step and staging happen under it).

        Steps that need no answer in between ride in the same command: `then` (the admin
        step, a script) and, with `stage`, the staging. Returns their Results, None for what
        was not asked or did not run (staging does not run when `then` failed); `staged`
        reads the staging's. A lock that is not taken raises here.
        """
        body = "lock\n"
        if then:
            body += (
                f"printf '%s' {_b64(then)} | base64 -d | sh; _then=$?\n"
                f'say "{_THEN_DONE}-$TOKEN $_then"\n[ "$_then" = 0 ] || exit "$_then"\n'
            )
        if stage:
            body += self._stage_body()
        steps = ["lock"] + (["admin"] if then else []) + (["stage"] if stage else [])
        status, out, err = self._run(body, step=" + ".join(steps), whole=True)
        if "@locked" not in out:
            if status == _EXIT_BUSY:
                raise BusyError(f"another apply is in progress on the host ({err})", untouched=True)
            raise ApplyFailed(f"cannot take the host lock: {err or out}", untouched=True)
        rest = out.split("@locked\n", 1)[-1]
        then_result: Result | None = None
        if then:
            head, mark, tail = rest.partition(f"{_THEN_DONE}-{self.token} ")
            if not mark:  # the step never ended (its shell died): a failure, nothing staged
                return Result(rest, err, status or 1), None
            code, _, rest = tail.partition("\n")
            then_result = Result(head, err, int(code))
            if then_result.status != 0:
                return then_result, None
        elif not stage and status != 0:
            raise ApplyFailed(f"cannot take the host lock: {err or out}", untouched=True)
        return then_result, Result(rest, err, status) if stage else None

    def _stage_body(self) -> str:
        lines = ["acquire"]
        for change in self.plan.files:
            if change.content is None:
                lines.append(f"stage_delete {shlex.quote(change.path)}")
            else:
                lines.append(f"stage_write {shlex.quote(change.path)} {_b64(change.content)}")
        lines += [f"stage_check {_b64(self.plan.validation_main)}", "validate"]
        return "\n".join(lines) + "\n"

    def stage(self) -> dict[str, str]:
        """Write candidates beside their targets, validate; return the candidate `sshd -T`."""
        status, out, err = self._run(self._stage_body(), step="stage")
        return self.staged(Result(out, err, status))

    def staged(self, result: Result) -> dict[str, str]:
        """The staging's outcome: the candidate `sshd -T`, or why nothing changed."""
        status, out, err = result.status, result.stdout, result.stderr
        if status == _EXIT_BUSY:
            raise BusyError(f"another apply is in progress on the host ({err})", untouched=True)
        if status == _EXIT_INVALID:
            raise ApplyFailed(
                f"sshd -t rejected the new configuration, nothing changed: {err}", untouched=True
            )
        if status == _EXIT_IO:
            raise ApplyFailed(
                f"could not stage the new configuration, nothing changed: {err}", untouched=True
            )
        if status != 0 or "@@ candidate" not in out:
            raise ApplyFailed(
                f"staging failed (exit {status}), nothing changed: {err or out}", untouched=True
            )
        return parse_sshd_T(out.split("@@ candidate", 1)[1])

    def abort(self, conn: Connection | None = None) -> None:
        """Drop staged files and our lock (nothing live was changed); idempotent."""
        self._run("abort\n", conn)

    def commit(self) -> int:
        """Arm the rollback, install, reload. Returns the host's rollback deadline (its epoch)."""
        status, out, err = self._run("commit\n", writes_watcher=True)
        if status == _EXIT_NOT_BACK:
            raise ApplyFailed(err, rolled_back=True)
        if status in (_EXIT_LOST, _EXIT_IO):  # both stop before any live file is renamed
            raise ApplyFailed(f"commit refused, nothing changed: {err or out}", untouched=True)
        if status != 0 or "@committed" not in out:
            # Not one of ours: whether the new files are live is unknown, so claim neither.
            raise ApplyFailed(f"commit failed (exit {status}): {err or out}; check the host")
        return int(out.split("@committed", 1)[1].split()[0])

    def confirm(self, conn: Connection) -> None:
        status, out, err = self._run("confirm\n", conn)
        if status != 0 or "@confirmed" not in out:
            raise ApplyFailed(f"could not confirm: {err or out}", rolled_back=True)

    def state(self, conn: Connection | None = None) -> str:
        """What is left of this transaction on the host: none, staged or installed."""
        _, out, _ = self._run("state\n", conn)
        return out.split("@state", 1)[1].split()[0] if "@state" in out else "unknown"

    def rollback(self) -> str:
        """Roll back now over the original connection.

        Returns "rolled-back", "gone" (the host's own watcher already did it) or "unreachable".
        """
        if not self.conn.alive:
            return "unreachable"
        try:
            status, out, _ = self._run("rollback\n")
        except ConnectError:
            return "unreachable"
        if status == 0 and "@rolled-back" in out:
            return "rolled-back"
        return "gone" if status == _EXIT_LOST else "unreachable"

    def recover(self, reconnect: Callable[[], Connection], deadline: float | None) -> str:
        """After losing the original connection: clean up or wait out the host's own rollback.

        `deadline` is when the host rolls back, on our time.monotonic() clock; None when the
        commit was never sent.

        Returns "aborted" (nothing was live yet: staged files and lock dropped), "rolled-back"
        (the watcher restored the old files) or "unknown" (the host could not be asked).
        """
        try:
            with reconnect() as conn:
                left = self.state(conn)
                if left == "staged":
                    self.abort(conn)
                    return "aborted"
                if left == "none":
                    return "rolled-back" if deadline is not None else "aborted"
        except ConnectError:
            pass
        if deadline is None:
            return "unknown"
        time.sleep(max(0.0, deadline - time.monotonic()) + 2)
        try:
            with reconnect() as conn:
                return "rolled-back" if self.state(conn) == "none" else "unknown"
        except ConnectError:
            return "unknown"
