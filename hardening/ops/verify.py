"""The proof after a commit: a fresh login re-plans from fresh facts; a failure rolls back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from hardening.change.transaction import Transaction
from hardening.host import facts as facts_mod
from hardening.model.client import CLIENT_ALGORITHMS
from hardening.model.errors import ApplyFailed, ConnectError, HardeningError
from hardening.ops.evidence import host_evidence
from hardening.ops.port_move import why_not
from hardening.ops.session import Session
from hardening.planning.plan import DirectiveValues, Plan, effective_matches, make_plan
from hardening.ssh.transport import Connection, scaled

ROLLBACK_SAYS = {
    "rolled-back": "rolled back to the previous configuration",
    "gone": "the host had already rolled back by itself (the confirm timeout had passed)",
    "aborted": "nothing had changed",
    "unknown": "the host's own rollback should have restored it by now; check the host",
}


@contextmanager
def fresh_login(
    session: Session, txn: Transaction, user: str, pin: str, deadline: float, port: int
) -> Iterator[Connection]:
    """A fresh login under the new configuration, on the port it listens on (`port`); any
    failure inside it rolls the change back."""
    # Never outlive the host's own rollback: a login after it would meet the old config.
    # A slow link gets more (100 round trips at least), never beyond the rollback.
    verify_wait = scaled(session.options.verify_wait, session.rtt, 100)
    wait = max(scaled(3.0, session.rtt, 20), min(verify_wait, deadline - time.monotonic() - 5))
    try:
        with session.open(user, wait=wait, pin=pin, port=port) as fresh:
            yield fresh
    except HardeningError as exc:
        if port != session.target.port and isinstance(exc, ConnectError):
            # Before the rollback: what the new port does now is what the move met.
            exc = ConnectError(
                f"{why_not(session.target.host, port, scaled(3.0, session.rtt, 20))}; {exc}"
            )
        outcome = txn.rollback()
        if outcome == "unreachable":
            session.say(
                f"{session.target.shown}: lost the original connection; the host rolls back itself"
            )
            outcome = txn.recover(lambda: session.reopen(pin), deadline)
        raise ApplyFailed(
            f"the new configuration failed the fresh-connection check as {user} ({exc}); "
            + ROLLBACK_SAYS[outcome],
            rolled_back=outcome in ("rolled-back", "gone"),
        ) from None


def prove(session: Session, txn: Transaction, fresh: Connection) -> Plan:
    """The proof: fresh facts, planned again, must leave nothing to do."""
    again = _replan(session, fresh)
    wrong = [f"{s.directive} is {s.effective} instead of {s.wanted}" for s in again.drift]
    wrong += [f"{f.path} would still change" for f in again.files]
    wrong += _negotiated_outside(fresh, txn.plan)
    if wrong or again.restart_needed:
        raise ApplyFailed("verification failed: " + "; ".join(wrong or again.notes))
    return again


def _replan(session: Session, conn: Connection) -> Plan:
    try:
        facts = session.read_facts(conn)
    except facts_mod.FactsError as exc:
        raise ApplyFailed(f"cannot read facts after the change: {exc}") from None
    if facts.sshd_test_error:
        raise ApplyFailed(f"sshd -T fails after the change: {facts.sshd_test_error}")
    # The control results under the new configuration (the ones `pulumi up` records).
    session.report.evidence = host_evidence(session.target.host, conn.target.port, facts)
    return make_plan(session.request, facts, CLIENT_ALGORITHMS, conn.target.user)


def mismatches(settings: list[DirectiveValues], effective: dict[str, str]) -> list[str]:
    return [
        f"{s.directive} would be {effective.get(s.key)!s} instead of {s.wanted}"
        for s in settings
        if not effective_matches(s.directive, s.wanted, effective.get(s.key))
    ]


def _negotiated_outside(conn: Connection, p: Plan) -> list[str]:
    """The fresh connection itself must have used only algorithms we allowed."""
    wanted = p.wanted()
    out = []
    for name, used in conn.negotiated.items():
        allowed = wanted.get(name)
        if not used or used == "None":  # AEAD ciphers (GCM) carry no separate MAC
            continue
        if allowed and used not in allowed.split(","):
            out.append(f"the server negotiated {name} {used}, which is not in the hardened list")
    return out
