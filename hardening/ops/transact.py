"""The host lock, taken for a change (pipeline.py's lock step) or a host-key rotation."""

from __future__ import annotations

import time

from hardening.change.transaction import BusyError, Transaction
from hardening.model.errors import ApplyFailed
from hardening.model.progress import Status
from hardening.ops.session import Session
from hardening.ssh.transport import Result


def take_lock(
    session: Session, txn: Transaction, then: str = "", *, stage: bool = False
) -> tuple[bool, Result | None, Result | None]:
    """Take the host lock, waiting (up to --wait) for another apply; True if we had to wait.

    `then` (the admin step) and, with `stage`, the staging run in the same command as a
    first, unopposed lock; after a wait the host is read again and the caller runs them
    itself (their Results are None then).
    """
    give_up = time.monotonic() + session.options.wait
    waited = False
    while True:
        try:
            if waited:
                return waited, *txn.lock()
            return waited, *txn.lock(then, stage=stage)
        except BusyError as exc:
            waited = True
            if time.monotonic() > give_up:
                raise ApplyFailed(
                    f"{exc}; gave up after --wait {session.options.wait:g}s", untouched=True
                ) from None
            shown = session.target.shown
            session.say(Status(f"{shown}: {exc}; waiting", host=shown, state=f"{shown}: {exc}"))
            time.sleep(2)
