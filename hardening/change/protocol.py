"""The on-host protocol: txn.sh's modes, its markers and exit codes, and the one reader of its
replies.

Defined once here. The scripts get every name from the assignments in front of their text
(`assign` in hardening/host/shell.py, the one templating scheme): the constants below open
txn.sh's library, the transaction's settings (`Header`) open every step. `parse` turns a
step's output and exit status into a `Reply`; nothing else reads txn.sh's output.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, fields
from enum import IntEnum, StrEnum
from typing import NamedTuple

from hardening.host.shell import HOST_SHELL, SECTION, HostShell, assign, b64, shared_shell, shipped


class Exit(IntEnum):
    """txn.sh's own exit codes (the shell sees EXIT_INVALID=10 ...)."""

    INVALID = 10  # sshd -t rejected the candidate; nothing changed
    NOT_BACK = 11  # the reload failed; the previous configuration is restored
    BUSY = 12  # another apply holds the lock
    LOST = 13  # the lock is not ours (any more); nothing changed
    IO = 14  # a file could not be written; nothing changed


class Mode(StrEnum):
    """txn.sh's entry points: one `txn MODE ARGS...` line each (`call`), its dispatcher's arms."""

    LOCK = "lock"  # take the lock, keep the script in it, say @locked
    THEN_STEP = "then_step"  # B64: a script run under the lock, its exit said with the token
    ACQUIRE = "acquire"  # the lock, silently (the staging's first line)
    STAGE_WRITE = "stage_write"  # PATH B64: a candidate beside PATH
    STAGE_DELETE = "stage_delete"  # PATH: PATH goes at the commit
    STAGE_MODE = "stage_mode"  # PATH MODE OWNER GROUP: PATH's mode and owner at the commit
    STAGE_CHECK = "stage_check"  # B64: the file `sshd -t -f` validates
    VALIDATE = "validate"  # sshd -t, @digest of the candidate's sshd -T, it after @@ candidate
    COMMIT = "commit"  # arm the watcher, install, reload, say @committed DEADLINE
    CONFIRM = "confirm"
    CONFIRM_IF = "confirm_if"  # DIGEST: confirm if the live sshd -T has it, else say @unproven
    ROLLBACK = "rollback"
    ABORT = "abort"  # drop what is staged and the lock (nothing was live)
    STATE = "state"  # say @state none|staged|installed
    WATCH = "watch"  # the rollback watcher the commit starts (never called from Python)


class Marker(StrEnum):
    """Lines txn.sh says on stdout (the shell sees MARK_LOCKED=@locked ...)."""

    LOCKED = "@locked"
    THEN_EXIT = "@then-exit"  # @then-exit-TOKEN STATUS: the step under the lock ended
    CANDIDATE = f"{SECTION} candidate"  # the candidate's sshd -T follows
    DIGEST = "@digest"  # @digest TEXT: the candidate's sshd -T as txn.sh compares it
    COMMITTED = "@committed"  # @committed DEADLINE (the host's epoch)
    CONFIRMED = "@confirmed"
    UNPROVEN = "@unproven"  # @unproven WHY: confirm_if left the transaction as it was
    ROLLED_BACK = "@rolled-back"
    STATE = "@state"  # @state none|staged|installed
    RESEND = "@resend"  # the lock's copy of the script is not there: send the step whole


class TxnState(StrEnum):
    """What is left of a transaction on the host."""

    NONE = "none"
    STAGED = "staged"
    INSTALLED = "installed"
    UNKNOWN = "unknown"  # the host did not say


@dataclass(frozen=True)
class Header:
    """One transaction's settings, in front of every step (and of the rollback watcher)."""

    STATE: str  # the state directory; the lock is STATE/lock
    TOKEN: str  # ours: the lock's owner line ends in it
    CHECK: str  # the file `sshd -t -f` validates
    CHECK_SPEC: str  # sshd -T -C connection spec, e.g. user=ops,host=1.2.3.4,addr=1.2.3.4
    RELOAD: str
    RESTART: str
    WATCHER: str  # "systemd-run" or "setsid"
    CONFIRM_TIMEOUT: int
    LEASE: int  # seconds a staged-but-uncommitted lock survives a vanished tool
    NEW_SUFFIX: str  # the candidate beside each file
    OLD_SUFFIX: str  # the backup beside each file

    def text(self, *, writes_watcher: bool = False) -> str:
        """`writes_watcher`: the step writes the rollback watcher (the commit), which starts
        with this same header."""
        head = assign({f.name: getattr(self, f.name) for f in fields(self)})
        if writes_watcher:
            head += assign({"WATCH_HEAD_B64": b64(head)})
        return head


def library(shell: HostShell = HOST_SHELL) -> str:
    """txn.sh as the lock keeps it: the protocol's constants, the shared shell, the modes."""
    constants: dict[str, object] = {f"EXIT_{e.name}": e.value for e in Exit}
    constants |= {f"MARK_{m.name}": m.value for m in Marker}
    return assign(constants) + shared_shell(shell) + shipped("txn.sh", "hardening.change")


def call(mode: Mode, *args: str) -> str:
    """One line of a step: txn.sh's dispatcher runs `mode` with `args`."""
    return shlex.join(["txn", mode.value, *args]) + "\n"


# The marker line of the library's heredoc: the library itself never holds this line.
_END_OF_LIBRARY = "HARDENED_ECS_TXN_LIBRARY_END"
# Load the copy the lock left, if the lock is still ours (its owner line ends in our token).
_LOAD_KEPT = f"""\
_kept="$STATE/lock/txn.sh"
if [ "$(cut -d' ' -f3 "$STATE/lock/owner" 2>/dev/null)" = "$TOKEN" ] \\
   && _body=$(cat "$_kept" 2>/dev/null) && [ -n "$_body" ]; then
  eval "$_body"
else
  echo {Marker.RESEND}; exit 0
fi
"""


def command(header: str, body: str, *, whole: bool, shell: HostShell = HOST_SHELL) -> str:
    """A step as sent: the header, the library (`whole`: carried in the command itself, as
    `_body`, which the lock keeps; else loaded from the lock's copy), then `body`."""
    if not whole:
        return header + _LOAD_KEPT + body
    text = library(shell)
    if _END_OF_LIBRARY in text:
        raise RuntimeError(f"scripts/txn.sh holds its own end marker {_END_OF_LIBRARY}")
    inline = f"_body=$(cat <<'{_END_OF_LIBRARY}'\n{text}{_END_OF_LIBRARY}\n)\neval \"$_body\"\n"
    return header + inline + body


class StepExit(NamedTuple):
    """The step run under the lock (Mode.THEN_STEP): what it printed and its exit status."""

    stdout: str
    status: int


@dataclass(frozen=True)
class Reply:
    """One step's answer, read once (`parse`)."""

    status: int
    stdout: str
    stderr: str  # stripped
    resend: bool  # the lock's copy was not there: nothing ran, send the step whole
    locked: bool
    then: StepExit | None  # None: no step under the lock ended (not asked, or it died)
    rest: str  # stdout after the lock's and the step's parts: what the staging printed
    candidate: str | None  # the candidate's sshd -T, when the staging validated it
    digest: str | None  # its digest, as txn.sh's confirm_if compares it
    committed: int | None  # the host's rollback deadline (its epoch)
    confirmed: bool
    unproven: str | None  # why confirm_if did not confirm
    rolled_back: bool
    state: TxnState

    @property
    def exit(self) -> Exit | None:
        """The exit status, when it is one of txn.sh's own."""
        return Exit(self.status) if self.status in _EXITS else None


_EXITS = frozenset(Exit)
_STATES = frozenset(s.value for s in TxnState)


def _line(text: str, marker: str) -> tuple[str, str] | None:
    """The first line that is `marker` (or `marker ARGS`): (ARGS, the text after that line)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        stop = len(text) if end < 0 else end
        line = text[start:stop]
        if line == marker or line.startswith(marker + " "):
            return line[len(marker) :].strip(), text[stop + 1 :]
        start = stop + 1
    return None


def parse(stdout: str, stderr: str, status: int, token: str) -> Reply:
    """A step's output and exit status as txn.sh meant them; `token` is the transaction's
    (only the step under the lock's end marker carries it: no output of the step fakes it)."""
    locked = _line(stdout, Marker.LOCKED)
    rest = locked[1] if locked else stdout
    then = None
    head, mark, tail = rest.partition(f"{Marker.THEN_EXIT}-{token} ")
    if mark:
        code, _, rest = tail.partition("\n")
        then = StepExit(head, int(code))
    candidate = _line(rest, Marker.CANDIDATE)
    digest = _line(rest, Marker.DIGEST)
    unproven = _line(stdout, Marker.UNPROVEN)
    committed = _line(stdout, Marker.COMMITTED)
    state = _line(stdout, Marker.STATE)
    said = state[0].split()[:1] if state else []
    deadline = committed[0].split()[:1] if committed else []
    return Reply(
        status=status,
        stdout=stdout,
        stderr=stderr.strip(),
        resend=stdout.startswith(Marker.RESEND),
        locked=locked is not None,
        then=then,
        rest=rest,
        candidate=candidate[1] if candidate else None,
        digest=(digest[0] or None) if digest and candidate else None,
        committed=int(deadline[0]) if deadline and deadline[0].isdigit() else None,
        confirmed=_line(stdout, Marker.CONFIRMED) is not None,
        unproven=unproven[0] if unproven else None,
        rolled_back=_line(stdout, Marker.ROLLED_BACK) is not None,
        state=TxnState(said[0]) if said and said[0] in _STATES else TxnState.UNKNOWN,
    )
