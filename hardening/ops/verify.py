"""The proof after a commit: a fresh login re-plans from fresh facts; a failure rolls back.

The fresh login's facts and the confirm go in one command when the host can decide the
confirm itself (`confirm_if`, txn.sh): the live `sshd -T` for the verifying login is the
candidate's, which `mismatches` passed before the commit, so the plan from those facts can
only agree. Only then: when something the host cannot see could still fail the proof (the
algorithms this connection negotiated, a daemon command line that beats the files, facts
read for another user), the facts come first and the confirm after, as before.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from hardening.change.transaction import Transaction
from hardening.host import facts as facts_mod
from hardening.host.facts import HostFacts
from hardening.model.client import CLIENT_ALGORITHMS
from hardening.model.errors import ApplyFailed, ConnectError, HardeningError
from hardening.ops.evidence import host_evidence
from hardening.ops.port_move import why_not
from hardening.ops.session import Session
from hardening.planning.plan import (
    DirectiveValues,
    Plan,
    cmdline_overrides,
    effective_matches,
    make_plan,
)
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
    except ConfirmedYetUnproven:
        raise  # confirmed on the host: there is nothing to roll back with
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


class ConfirmedYetUnproven(ApplyFailed):
    """The host confirmed (its `sshd -T` was the candidate's), yet the plan disagrees."""


def prove_and_confirm(
    session: Session, txn: Transaction, fresh: Connection, facts: HostFacts
) -> Plan:
    """The proof and the confirm, in one command when the host can decide (module docstring);
    `facts` are the first login's. Raises ConfirmedYetUnproven when the host confirmed and
    the plan from the fresh facts still disagrees (nothing left to roll back with)."""
    if not _host_can_decide(session, txn, fresh, facts):
        again = prove(session, txn, fresh)
        txn.confirm(fresh)
        return again
    script = session.facts_script()
    out, unproven = txn.confirm_if_proven(fresh, script)
    read = _parsed(out)
    if unproven is not None:  # nothing changed on the host: prove it the long way
        session.say(f"{session.target.shown}: {unproven}; proving from the facts instead")
        again = prove(session, txn, fresh, read)
        txn.confirm(fresh)
        return again
    try:
        return prove(session, txn, fresh, read)
    except ApplyFailed as exc:
        raise ConfirmedYetUnproven(
            f"{exc}, although the host's sshd -T was the validated candidate's and it confirmed "
            "the change: check the host"
        ) from None


def _host_can_decide(
    session: Session, txn: Transaction, fresh: Connection, facts: HostFacts
) -> bool:
    """Whether the host's comparison is the whole proof: `prove` could fail on nothing else."""
    keys = {s.key for s in txn.plan.settings}
    return (
        txn.digest is not None
        and not _negotiated_outside(fresh, txn.plan)
        and not txn.plan.restart_needed
        and not cmdline_overrides(facts.listener_cmdline, keys)
        # The facts read sshd -T for the admin; the candidate was validated for this login.
        and fresh.target.user == session.request.admin_user
        and txn.connection_spec.startswith(f"user={fresh.target.user},")
    )


def _parsed(out: str) -> HostFacts:
    try:
        return facts_mod.parse_facts(out)
    except facts_mod.FactsError as exc:
        raise ApplyFailed(f"cannot read facts after the change: {exc}") from None


def prove(
    session: Session, txn: Transaction, fresh: Connection, facts: HostFacts | None = None
) -> Plan:
    """The proof: fresh facts (read now, or `facts` read already), planned again, must leave
    nothing to do."""
    again = _replan(session, fresh, facts)
    wrong = [f"{s.directive} is {s.effective} instead of {s.wanted}" for s in again.drift]
    wrong += [f"{f.path} would still change" for f in again.files]
    wrong += [f"{m.describe()} would still be needed" for m in again.modes]
    wrong += _negotiated_outside(fresh, txn.plan)
    if wrong or again.restart_needed:
        raise ApplyFailed("verification failed: " + "; ".join(wrong or again.notes))
    return again


def _replan(session: Session, conn: Connection, facts: HostFacts | None) -> Plan:
    if facts is None:
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
