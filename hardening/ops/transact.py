"""Changing the host: lock, (admin user), stage + validate, commit, verify + confirm; undo on
failure. The host key rotation (rotation.py) takes the lock the same way.
"""

from __future__ import annotations

import time

from hardening.change.admin import admin_script, admin_undo_script
from hardening.change.transaction import BusyError, Transaction
from hardening.host.facts import HostFacts
from hardening.model.errors import ApplyFailed, ConnectError, UsageError
from hardening.model.progress import Status, plural
from hardening.ops.admin_setup import admin_ready, undo_failed
from hardening.ops.session import Session, check_spec
from hardening.ops.verify import mismatches, verify
from hardening.planning.plan import Plan
from hardening.ssh.keys import public_line
from hardening.ssh.transport import Connection, Result, SudoError


def take_lock(
    run: Session, txn: Transaction, then: str = "", *, stage: bool = False
) -> tuple[bool, Result | None, Result | None]:
    """Take the host lock, waiting (up to --wait) for another apply; True if we had to wait.

    `then` (the admin step) and, with `stage`, the staging run in the same command as a
    first, unopposed lock; after a wait the host is read again and the caller runs them
    itself (their Results are None then).
    """
    give_up = time.monotonic() + run.options.wait
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
                    f"{exc}; gave up after --wait {run.options.wait:g}s", untouched=True
                ) from None
            shown = run.target.shown
            run.say(Status(f"{shown}: {exc}; waiting", host=shown, state=f"{shown}: {exc}"))
            time.sleep(2)


def _aim_verification(
    txn: Transaction, conn: Connection, facts: HostFacts, p: Plan, admin: str
) -> str:
    """Who the verifying login is (the admin when root is being closed), and so the
    connection spec the candidate's `sshd -T` is asked for. Returns the user."""
    user = admin if p.needs_admin else conn.target.user
    txn.check_spec = check_spec(user, facts)
    return user


def transact(run: Session, conn: Connection, facts: HostFacts, p: Plan) -> bool:
    """Lock, (admin user), stage + validate, commit, verify + confirm; undo on failure.

    Returns False when, read again under the lock, the host needs no change after all.
    """
    host, pin = run.target.shown, conn.host_key_fingerprint
    txn = Transaction(conn, p, check_spec(conn.target.user, facts), run.options.confirm_timeout)
    undo = ""
    committed_at: float | None = None
    admin, key_line = run.request.admin_user, public_line(run.target.key)
    try:
        # With no other transaction in sight, the admin step and the staging ride with the
        # lock: one command, one round trip, for three steps that need no answer in between.
        unopposed = facts.lock_holder is None
        early = ""
        if p.needs_admin and unopposed:
            early = admin_script(admin, key_line, adopt=run.request.adopt_admin)
            run.say(f"{host}: ensuring admin user {admin} under the host lock")
        verify_user = _aim_verification(txn, conn, facts, p, admin)
        waited, admin_result, staged = take_lock(run, txn, early, stage=unopposed)
        if waited or not unopposed:
            # Another transaction ended while we waited: plan from what the host has now.
            facts = run.gather(conn)
            p = txn.plan = run.plan(conn, facts)
            if not p.changes:
                txn.abort()
                return False
            run.preflight(facts, p)
            verify_user = _aim_verification(txn, conn, facts, p, admin)
        if p.needs_admin:
            did = admin_ready(run, conn, admin_result)
            undo = admin_undo_script(admin, key_line, did)
        # The admin's own proof (a fresh login as the admin, and sudo) is the verifying login
        # after the commit, not a login of its own before it. Root's login closes only with
        # the commit, and only provisionally: until the confirm, the original connection
        # (root's session, which a reload leaves alone) rolls back when the admin cannot get
        # in, and the host's own watcher does if that connection is gone too. So the admin
        # is proven before root is closed for good, and a fresh apply makes two logins, not
        # three: no connection of its own on the way to the commit (about 6 round trips).
        candidate = txn.staged(staged) if staged is not None else txn.stage()
        wrong = mismatches(p.settings, candidate)
        if wrong:
            raise ApplyFailed(
                "the candidate configuration would not take effect, nothing changed: "
                + "; ".join(wrong),
                untouched=True,
            )
        run.say(
            f"{host}: validated with sshd -t; "
            f"arming rollback ({run.options.confirm_timeout}s) and reloading"
        )
        committed_at = time.monotonic()
        txn.commit()
        # Our own clock, not the host's: a fresh VM's clock may be off until NTP corrects it.
        deadline = committed_at + run.options.confirm_timeout
        run.say(f"{host}: reloaded sshd; verifying from a fresh connection as {verify_user}")
        again = verify(run, txn, verify_user, pin, deadline)
    except ApplyFailed as exc:
        if exc.untouched and conn.alive:
            txn.abort()
        # Leave the host as it was: the admin user we made goes with the change. Not when
        # the new sshd config may still be live (then it is the way back in).
        if undo and (exc.rolled_back or exc.untouched) and conn.alive:
            left = undo_failed(conn.run(undo, step="admin undo"))
            if left:
                raise ApplyFailed(
                    str(exc) + left, rolled_back=exc.rolled_back, untouched=exc.untouched
                ) from None
        raise
    except UsageError:
        if conn.alive:  # found under the lock, before any change: release it
            txn.abort()
        raise
    except SudoError:
        raise
    except ConnectError as exc:
        # The original connection died mid-way: clean up, or wait out the host's rollback.
        run.say(f"{host}: {exc}; finding out what the host has")
        until = None if committed_at is None else committed_at + run.options.confirm_timeout
        outcome = txn.recover(lambda: run.reopen(pin), until)
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
            f"runs {run.options.confirm_timeout}s after the commit: check the host"
        ) from None
    for s in again.settings:
        run.report.settings[s.directive]["after"] = s.effective
    run.report.changed = True
    run.report.compliant = not run.report.drift
    run.say(f"{host}: hardened and confirmed ({plural(len(p.drift), 'setting')} changed)")
    return True
