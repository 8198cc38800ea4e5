"""The transaction that applies a plan: stage, validate, arm rollback, commit, confirm/roll back.

The on-host half is scripts/txn.sh. Its rollback watcher is armed before any live file changes,
so a tool that dies or loses its connection leaves a host that restores itself after
`confirm_timeout` seconds. Backups are hard links next to the files (no extra disk space, and
the restore is a rename).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from hardening.change import protocol
from hardening.change.protocol import Exit, Mode, Reply, TxnState, call
from hardening.host.facts import parse_sshd_T
from hardening.host.paths import BACKUP_SUFFIX, CANDIDATE_SUFFIX, STATE_DIR
from hardening.host.shell import b64
from hardening.model.errors import ApplyFailed, ConnectError
from hardening.planning.plan import Plan
from hardening.ssh.transport import Connection, Result

VALIDATION_PATH = "/etc/ssh/.sshd_config.hardened-ecs-check"
STAGE_LEASE = 120  # seconds a staged-but-uncommitted lock survives a vanished tool


class BusyError(ApplyFailed):
    """Another apply holds the host's transaction lock."""


@dataclass
class Transaction:
    """One apply on one host. `conn` is the original connection; verification opens its own."""

    conn: Connection
    plan: Plan
    connection_spec: str  # sshd -T -C connection spec, e.g. user=ops,host=1.2.3.4,addr=1.2.3.4
    confirm_timeout: int
    token: str = ""
    digest: str | None = None  # the validated candidate's `sshd -T`, as confirm_if compares it

    def __post_init__(self) -> None:
        self.token = self.token or secrets.token_hex(8)

    def _header(self) -> protocol.Header:
        return protocol.Header(
            STATE=STATE_DIR,
            TOKEN=self.token,
            CHECK=VALIDATION_PATH,
            CHECK_SPEC=self.connection_spec,
            RELOAD=self.plan.service.reload,
            RESTART=self.plan.service.restart,
            WATCHER=self.plan.service.watcher,
            CONFIRM_TIMEOUT=self.confirm_timeout,
            LEASE=STAGE_LEASE,
            NEW_SUFFIX=CANDIDATE_SUFFIX,
            OLD_SUFFIX=BACKUP_SUFFIX,
        )

    def _run(
        self,
        body: str,
        conn: Connection | None = None,
        *,
        step: str,
        whole: bool = False,
        writes_watcher: bool = False,
    ) -> Reply:
        """Run `body` (txn.sh's modes, `call` lines) with txn.sh's functions defined.

        The lock carries txn.sh itself and leaves a copy in the lock directory; every later
        step sends only the header and a few lines that load that copy, and is sent again
        whole only when the copy is not there (the lock is not ours any more, or it is gone).
        Every step before sent the whole script: 7 kB, more than one TCP window at the commit.
        `whole`: send the script with this step (the lock's); `writes_watcher`: the step writes
        the rollback watcher (the commit's), which starts with this same header.
        """
        conn = conn or self.conn
        header = self._header().text(writes_watcher=writes_watcher)
        reply = self._read(conn.run(protocol.command(header, body, whole=whole), step=step))
        if reply.resend:
            again = protocol.command(header, body, whole=True)
            reply = self._read(conn.run(again, step=f"{step} (sent whole)"))
        return reply

    def _read(self, result: Result) -> Reply:
        return protocol.parse(result.stdout, result.stderr, result.status, self.token)

    def lock(self, then: str = "", *, stage: bool = False) -> tuple[Result | None, Result | None]:
        """Take the host's transaction lock (the admin user step and staging happen under it).

        Steps that need no answer in between ride in the same command: `then` (the admin
        step, a script) and, with `stage`, the staging. Returns their Results, None for what
        was not asked or did not run (staging does not run when `then` failed); `staged`
        reads the staging's. A lock that is not taken raises here.
        """
        body = call(Mode.LOCK)
        if then:
            body += call(Mode.THEN_STEP, b64(then))
        if stage:
            body += self._stage_body()
        steps = ["lock"] + (["admin"] if then else []) + (["stage"] if stage else [])
        reply = self._run(body, step=" + ".join(steps), whole=True)
        status, err = reply.status, reply.stderr
        if not reply.locked:
            if reply.exit is Exit.BUSY:
                raise BusyError(f"another apply is in progress on the host ({err})", untouched=True)
            raise ApplyFailed(f"cannot take the host lock: {err or reply.stdout}", untouched=True)
        then_result: Result | None = None
        if then:
            if (
                reply.then is None
            ):  # the step never ended (its shell died): a failure, nothing staged
                return Result(reply.rest, err, status or 1), None
            then_result = Result(reply.then.stdout, err, reply.then.status)
            if then_result.status != 0:
                return then_result, None
        elif not stage and status != 0:
            raise ApplyFailed(f"cannot take the host lock: {err or reply.stdout}", untouched=True)
        return then_result, Result(reply.rest, err, status) if stage else None

    def _stage_body(self) -> str:
        lines = [call(Mode.ACQUIRE)]
        for change in self.plan.files:
            if change.content is None:
                lines.append(call(Mode.STAGE_DELETE, change.path))
            else:
                lines.append(call(Mode.STAGE_WRITE, change.path, b64(change.content)))
        for m in self.plan.modes:
            lines.append(call(Mode.STAGE_MODE, m.path, m.mode, m.owner, m.group))
        lines += [call(Mode.STAGE_CHECK, b64(self.plan.validation_main))]
        return "".join(lines) + call(Mode.VALIDATE)

    def stage(self) -> dict[str, str]:
        """Write candidates beside their targets, validate; return the candidate `sshd -T`."""
        return self._staged(self._run(self._stage_body(), step="stage"))

    def staged(self, result: Result) -> dict[str, str]:
        """The staging's outcome: the candidate `sshd -T`, or why nothing changed."""
        return self._staged(self._read(result))

    def _staged(self, reply: Reply) -> dict[str, str]:
        err = reply.stderr
        if reply.exit is Exit.BUSY:
            raise BusyError(f"another apply is in progress on the host ({err})", untouched=True)
        if reply.exit is Exit.INVALID:
            raise ApplyFailed(
                f"sshd -t rejected the new configuration, nothing changed: {err}", untouched=True
            )
        if reply.exit is Exit.IO:
            raise ApplyFailed(
                f"could not stage the new configuration, nothing changed: {err}", untouched=True
            )
        if reply.status != 0 or reply.candidate is None:
            raise ApplyFailed(
                f"staging failed (exit {reply.status}), nothing changed: {err or reply.stdout}",
                untouched=True,
            )
        self.digest = reply.digest
        return parse_sshd_T(reply.candidate)

    def abort(self, conn: Connection | None = None) -> None:
        """Drop staged files and our lock (nothing live was changed); idempotent."""
        self._run(call(Mode.ABORT), conn, step="abort")

    def commit(self) -> int:
        """Arm the rollback, install, reload. Returns the host's rollback deadline (its epoch)."""
        reply = self._run(call(Mode.COMMIT), step="commit", writes_watcher=True)
        status, err, out = reply.status, reply.stderr, reply.stdout
        if reply.exit is Exit.NOT_BACK:
            raise ApplyFailed(err, rolled_back=True)
        if reply.exit in (Exit.LOST, Exit.IO):  # both stop before any live file is renamed
            raise ApplyFailed(f"commit refused, nothing changed: {err or out}", untouched=True)
        if status != 0 or reply.committed is None:
            # Not one of ours: whether the new files are live is unknown, so claim neither.
            raise ApplyFailed(f"commit failed (exit {status}): {err or out}; check the host")
        return reply.committed

    def confirm(self, conn: Connection) -> None:
        reply = self._run(call(Mode.CONFIRM), conn, step="confirm")
        if reply.status != 0 or not reply.confirmed:
            raise ApplyFailed(
                f"could not confirm: {reply.stderr or reply.stdout}", rolled_back=True
            )

    def confirm_if_proven(self, conn: Connection, before: str) -> tuple[str, str | None]:
        """`before` (the fresh login's facts), then, in the same command, the host confirms if
        its live `sshd -T` is the validated candidate's (txn.sh's confirm_if, the one
        comparison).

        Returns the output of `before` and None when the host confirmed, or why it did not
        (then nothing changed on the host: the caller proves it its own way, or rolls back).
        """
        if self.digest is None:
            raise RuntimeError("confirm_if_proven before a validated staging")
        split = f"@before-end-{self.token}"
        body = call(Mode.CONFIRM_IF, self.digest)
        step = protocol.command(self._header().text(), body, whole=False)
        # A subshell that reads nothing: the script arrives on stdin and must stay ours.
        script = f"(\n{before}\n) </dev/null\nprintf '\\n%s\\n' {split}\n{step}"
        result = conn.run(script, step="facts + confirm")
        head, mark, tail = result.stdout.rpartition(f"\n{split}\n")
        if not mark:  # the shell ended before our part: the host was not asked
            head, tail = result.stdout, ""
        reply = self._read(Result(tail, result.stderr, result.status))
        if reply.resend:
            reply = self._run(body, conn, step="confirm (sent whole)")
        if reply.confirmed:
            return head, None
        if reply.unproven is not None and reply.status == 0:
            return head, reply.unproven
        raise ApplyFailed(f"could not confirm: {reply.stderr or reply.stdout}", rolled_back=True)

    def state(self, conn: Connection | None = None) -> TxnState:
        """What is left of this transaction on the host: none, staged or installed."""
        return self._run(call(Mode.STATE), conn, step="state").state

    def rollback(self) -> str:
        """Roll back now over the original connection.

        Returns "rolled-back", "gone" (the host's own watcher already did it) or "unreachable".
        """
        if not self.conn.alive:
            return "unreachable"
        try:
            reply = self._run(call(Mode.ROLLBACK), step="rollback")
        except ConnectError:
            return "unreachable"
        if reply.status == 0 and reply.rolled_back:
            return "rolled-back"
        return "gone" if reply.exit is Exit.LOST else "unreachable"

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
                if left is TxnState.STAGED:
                    self.abort(conn)
                    return "aborted"
                if left is TxnState.NONE:
                    return "rolled-back" if deadline is not None else "aborted"
        except ConnectError:
            pass
        if deadline is None:
            return "unknown"
        time.sleep(max(0.0, deadline - time.monotonic()) + 2)
        try:
            with reconnect() as conn:
                return "rolled-back" if self.state(conn) is TxnState.NONE else "unknown"
        except ConnectError:
            return "unknown"
