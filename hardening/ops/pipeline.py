"""The operations as named steps on one Context, read top to bottom.

apply: gather -> plan -> lock -> stage -> commit -> verify -> confirm, undone on failure.
check and plan are its first two steps, read-only. The step modules keep their jobs: session
(connections, facts, plan), transact (the host lock), admin_setup, verify (the fresh login).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from hardening.change.admin import admin_script, admin_undo_script
from hardening.change.transaction import Transaction
from hardening.host.facts import HostFacts
from hardening.model.errors import EXIT_DRIFT, ApplyFailed, ConnectError, UsageError
from hardening.model.progress import plural
from hardening.ops.admin_setup import admin_ready, undo_failed
from hardening.ops.port_move import port_after, record_move
from hardening.ops.session import PENDING, Session, connection_spec
from hardening.ops.transact import take_lock
from hardening.ops.verify import fresh_login, mismatches, prove
from hardening.planning.live_config import unloaded_edit
from hardening.planning.plan import Plan
from hardening.ssh.keys import public_line
from hardening.ssh.transport import Connection, Result, SudoError


@dataclass
class Context:
    """One operation on one host as its steps see it: what each step found or left."""

    session: Session
    conn: Connection
    facts: HostFacts = field(init=False)
    plan: Plan = field(init=False)
    txn: Transaction = field(init=False)
    verify_user: str = ""  # the fresh login's user (the admin when root is being closed)
    admin_result: Result | None = None  # the admin step's, when it rode with the lock
    staged: Result | None = None  # the staging's, when it rode with the lock
    undo: str = ""  # the admin undo script, once the admin step did something
    committed_at: float | None = None  # our clock's, not the host's
    confirmed: Plan | None = None  # the fresh login's plan
    port_after: int = 0  # where sshd listens once the candidate is live (the staging says)

    @property
    def shown(self) -> str:
        return self.session.target.shown


def check(session: Session) -> None:
    """Read-only: does `sshd -T` show every wanted value? Exit 1 with the drift if not."""
    with session.open_first() as conn:
        ctx = gather(Context(session, conn))  # records the control results too
        plan(ctx)
    session.finish_read_only()
    if ctx.facts.lock_holder is not None:
        # Unconfirmed: the host's own rollback may still undo what sshd -T shows now.
        session.report.notes.append(f"a change is in progress on the host ({PENDING})")
        session.report.compliant = False
    if not session.report.compliant:
        session.report.exit_code = EXIT_DRIFT


def preview(session: Session) -> None:
    """Read-only: what `apply` would change, and where."""
    with session.open_first() as conn:
        ctx = plan(gather(Context(session, conn)))
        session.preflight(ctx.facts, ctx.plan)
        if ctx.facts.lock_holder is not None:
            session.report.notes.append(f"a change is in progress on the host ({PENDING})")
        if ctx.plan.needs_admin:
            session.report.notes.append(
                f"root will lose SSH login: {session.request.admin_user} "
                "would be ensured and proven first"
            )
    session.finish_read_only()


def apply(session: Session) -> None:
    """Harden: validated, proven from a fresh connection, rolled back on its own on failure."""
    with session.open_first() as conn:
        ctx = plan(gather(Context(session, conn), settle=True))
        session.preflight(ctx.facts, ctx.plan)
        refuse_an_unloaded_edit(ctx)
        # A transaction still on the host (its rollback pending) makes these facts
        # provisional: the lock waits for it and reads the host again.
        if (ctx.plan.changes or ctx.facts.lock_holder is not None) and change(ctx):
            return
        session.finish_read_only()
        if not session.report.compliant:
            r = session.report
            raise ApplyFailed(
                "our settings are in place but sshd -T still shows "
                + ", ".join(f"{n}={r.settings[n]['after']}" for n in r.drift)
                + " (a Match block or a setting sshd reads elsewhere?)"
            )
        session.say(f"{ctx.shown}: compliant, nothing to change")


def refuse_an_unloaded_edit(ctx: Context) -> None:
    """A change on top of files sshd never loaded would roll back to them, not to what runs
    (planning/live_config.py says why refusing is the only safe answer): nothing changes."""
    unloaded = unloaded_edit(ctx.facts)
    if unloaded and ctx.plan.changes:
        raise ApplyFailed(unloaded, untouched=True)


def change(ctx: Context) -> bool:
    """Lock, stage, commit, verify, confirm; undone on failure.

    Returns False when, read again under the lock, the host needs no change after all.
    """
    spec = connection_spec(ctx.conn.target.user, ctx.facts)
    ctx.txn = Transaction(ctx.conn, ctx.plan, spec, ctx.session.options.confirm_timeout)
    with undone_on_failure(ctx):
        if not lock(ctx):
            return False
        stage(ctx)
        commit(ctx)
        with fresh_login(
            ctx.session,
            ctx.txn,
            ctx.verify_user,
            ctx.conn.host_key_fingerprint,
            _rollback_deadline(ctx),
            ctx.port_after,
        ) as fresh:
            verify(ctx, fresh)
            confirm(ctx, fresh)
    record(ctx)
    return True


def gather(ctx: Context, *, settle: bool = False) -> Context:
    """The host's facts, in one round trip; `settle` (apply) first lets cloud-init finish."""
    ctx.facts = ctx.session.gather(ctx.conn, settle=settle)
    return ctx


def plan(ctx: Context) -> Context:
    ctx.plan = ctx.session.plan(ctx.conn, ctx.facts)
    return ctx


def lock(ctx: Context) -> bool:
    """Take the host lock, waiting for another apply; False when nothing is left to change.

    With no other transaction in sight, the admin step and the staging ride with the lock:
    one command, one round trip, for three steps that need no answer in between.
    """
    session, admin = ctx.session, ctx.session.request.admin_user
    unopposed = ctx.facts.lock_holder is None
    early = ""
    if ctx.plan.needs_admin and unopposed:
        early = admin_script(admin, _key_line(ctx), adopt=session.request.adopt_admin)
        session.say(f"{ctx.shown}: ensuring admin user {admin} under the host lock")
    _aim_verification(ctx)
    waited, ctx.admin_result, ctx.staged = take_lock(session, ctx.txn, early, stage=unopposed)
    if waited or not unopposed:
        # Another transaction ended while we waited: plan from what the host has now.
        gather(ctx)
        ctx.txn.plan = plan(ctx).plan
        if not ctx.plan.changes:
            ctx.txn.abort()
            return False
        session.preflight(ctx.facts, ctx.plan)
        _aim_verification(ctx)
    return True


def stage(ctx: Context) -> None:
    """The admin user ready (if root is being closed), the candidate written and validated.

    The admin's own proof (a fresh login as the admin, and sudo) is the verifying login after
    the commit, not a login of its own before it. Root's login closes only with the commit,
    and only provisionally: until the confirm, the original connection (root's session, which
    a reload leaves alone) rolls back when the admin cannot get in, and the host's own watcher
    does if that connection is gone too. So the admin is proven before root is closed for
    good, and a fresh apply makes two logins, not three: no connection of its own on the way
    to the commit (about 6 round trips).
    """
    if ctx.plan.needs_admin:
        did = admin_ready(ctx.session, ctx.conn, ctx.admin_result)
        ctx.undo = admin_undo_script(ctx.session.request.admin_user, _key_line(ctx), did)
    txn = ctx.txn
    candidate = txn.staged(ctx.staged) if ctx.staged is not None else txn.stage()
    ctx.port_after = port_after(ctx.facts.effective, candidate, ctx.conn.target.port)
    wrong = mismatches(ctx.plan.settings, candidate)
    if wrong:
        raise ApplyFailed(
            "the candidate configuration would not take effect, nothing changed: "
            + "; ".join(wrong),
            untouched=True,
        )


def commit(ctx: Context) -> None:
    """Arm the host's rollback, install, reload."""
    session = ctx.session
    session.say(
        f"{ctx.shown}: validated with sshd -t; "
        f"arming rollback ({session.options.confirm_timeout}s) and reloading"
    )
    ctx.committed_at = time.monotonic()
    ctx.txn.commit()
    session.say(
        f"{ctx.shown}: reloaded sshd; verifying from a fresh connection as {ctx.verify_user}"
    )


def verify(ctx: Context, fresh: Connection) -> None:
    """The fresh login's facts, planned again, must leave nothing to do."""
    ctx.confirmed = prove(ctx.session, ctx.txn, fresh)


def confirm(ctx: Context, fresh: Connection) -> None:
    """Disarm the host's rollback, from the fresh login."""
    ctx.txn.confirm(fresh)


def record(ctx: Context) -> None:
    """The confirmed values in the report."""
    assert ctx.confirmed is not None  # confirm ran
    report = ctx.session.report
    for s in ctx.confirmed.settings:
        report.settings[s.directive]["after"] = s.effective
    report.changed = True
    report.compliant = not report.drift
    record_move(ctx.session, ctx.conn, ctx.port_after)
    n = plural(len(ctx.plan.drift), "setting")
    ctx.session.say(f"{ctx.shown}: hardened and confirmed ({n} changed)")


@contextmanager
def undone_on_failure(ctx: Context) -> Iterator[None]:
    """A failure leaves the host as it was (or says what the host's own rollback does)."""
    session, conn = ctx.session, ctx.conn
    try:
        yield
    except ApplyFailed as exc:
        if exc.untouched and conn.alive:
            ctx.txn.abort()
        # Leave the host as it was: the admin user we made goes with the change. Not when
        # the new sshd config may still be live (then it is the way back in).
        if ctx.undo and (exc.rolled_back or exc.untouched) and conn.alive:
            left = undo_failed(conn.run(ctx.undo, step="admin undo"))
            if left:
                raise ApplyFailed(
                    str(exc) + left, rolled_back=exc.rolled_back, untouched=exc.untouched
                ) from None
        raise
    except UsageError:
        if conn.alive:  # found under the lock, before any change: release it
            ctx.txn.abort()
        raise
    except SudoError:  # a ConnectError, but nothing was lost: no recovery to try
        raise
    except ConnectError as exc:
        # The original connection died mid-way: clean up, or wait out the host's rollback.
        session.say(f"{ctx.shown}: {exc}; finding out what the host has")
        pin = conn.host_key_fingerprint
        until = None if ctx.committed_at is None else _rollback_deadline(ctx)
        outcome = ctx.txn.recover(lambda: session.reopen(pin), until)
        if outcome == "aborted":
            raise ApplyFailed(
                f"{exc} before the change reached sshd; staged files and the lock were removed, "
                "nothing changed",
                untouched=True,
            ) from None
        if outcome == "rolled-back":
            raise ApplyFailed(
                f"{exc} during the commit; the host rolled back by itself",
                rolled_back=True,
            ) from None
        raise ApplyFailed(
            f"{exc}, and the host could not be asked again; its own rollback "
            f"runs {session.options.confirm_timeout}s after the commit: check the host"
        ) from None


def _rollback_deadline(ctx: Context) -> float:
    """When the host rolls back by itself, on our clock: a fresh VM's may be off until NTP."""
    assert ctx.committed_at is not None  # the commit was sent
    return ctx.committed_at + ctx.session.options.confirm_timeout


def _aim_verification(ctx: Context) -> None:
    """Who the verifying login is (the admin when root is being closed), and so the
    connection spec the candidate's `sshd -T` is asked for."""
    admin = ctx.session.request.admin_user
    ctx.verify_user = admin if ctx.plan.needs_admin else ctx.conn.target.user
    ctx.txn.connection_spec = connection_spec(ctx.verify_user, ctx.facts)


def _key_line(ctx: Context) -> str:
    return public_line(ctx.session.target.key)
