"""Host-key rotation: a fresh ed25519 host key for a compliant host, through a transaction.

The key itself (and its files) is made by change/rekey.py; this is the operation: gather and
plan (the host must be compliant, nothing under way), lock, stage, commit, then a fresh login
pinned to the new key confirms.
"""

from __future__ import annotations

import dataclasses
import time

from hardening.change import rekey
from hardening.change.transaction import Transaction
from hardening.host.facts import HostFacts
from hardening.model.desired import Request
from hardening.model.errors import ApplyFailed, ConnectError
from hardening.model.progress import Progress
from hardening.ops.report import DEFAULTS, Options, Report
from hardening.ops.session import Session, connection_spec, run_operation
from hardening.ops.transact import take_lock
from hardening.ops.verify import ROLLBACK_SAYS, fresh_login, prove
from hardening.planning.plan import Plan
from hardening.ssh.transport import Connection, Target


def rotate_host_key(
    target: Target, request: Request, options: Options = DEFAULTS, progress: Progress | None = None
) -> Report:
    """A fresh ed25519 host key for a compliant host, through a transaction.

    The fresh login that confirms it must meet the new key (pinned to it): only then is the
    old one gone. `report.host_key_fingerprint`/`host_public_key` name the key now presented.
    """

    def body(session: Session) -> None:
        with session.open_first() as conn:
            facts = session.gather(conn)
            p = session.plan(conn, facts)
            if p.changes or not p.compliant or facts.lock_holder is not None:
                raise ApplyFailed(
                    "host keys are rotated only on a compliant host with no change under way: "
                    "apply first (nothing changed)",
                    untouched=True,
                )
            key = rekey.new_host_key()
            p = dataclasses.replace(p, files=rekey.host_key_files(key), notes=[])
            _rotate(session, conn, facts, p, key.fingerprint)
            session.report.host_key_fingerprint = key.fingerprint
            session.report.host_public_key = key.public
            session.report.files = [f.path for f in p.files]
            session.report.changed = True
            session.say(f"{target.shown}: new host key {key.fingerprint} confirmed")

    return run_operation("rotate-host-key", body, target, request, options, progress)


def _rotate(session: Session, conn: Connection, facts: HostFacts, p: Plan, new_pin: str) -> None:
    """Lock, stage + validate, commit, then a fresh login pinned to `new_pin` confirms."""
    old_pin = conn.host_key_fingerprint
    txn = Transaction(
        conn, p, connection_spec(conn.target.user, facts), session.options.confirm_timeout
    )
    committed_at: float | None = None
    try:
        waited, _, _ = take_lock(session, txn)
        if waited:
            txn.abort()
            raise ApplyFailed("another apply ran meanwhile; rotate again", untouched=True)
        # sshd -t with the live configuration; no sshd_config file changes here, so the
        # candidate's sshd -T is not compared (the fresh login re-plans the live one instead).
        txn.stage()
        committed_at = time.monotonic()
        txn.commit()
        session.report.rolled_back = False
        deadline = committed_at + session.options.confirm_timeout
        port = conn.target.port  # a rotation changes no sshd_config file: no port moves
        with fresh_login(session, txn, conn.target.user, new_pin, deadline, port) as fresh:
            prove(session, txn, fresh)
            txn.confirm(fresh)
    except ApplyFailed as exc:
        if exc.untouched and conn.alive:
            txn.abort()
        raise
    except ConnectError as exc:
        until = None if committed_at is None else committed_at + session.options.confirm_timeout
        # Either key may answer now: the host's own rollback restores the old one.
        outcome = txn.recover(lambda: session.reopen(old_pin), until)
        raise ApplyFailed(
            f"{exc} while rotating the host key; " + ROLLBACK_SAYS.get(outcome, outcome),
            rolled_back=outcome in ("rolled-back", "gone"),
            untouched=outcome == "aborted",
        ) from None
