"""apply / check / plan against one host: facts -> plan -> transaction, reported as a `Report`.

Takes the transport's Target; adapters (CLI, fleet, provider) call hardening.api, which builds
it. Every outcome, failures included, comes back as a Report whose `exit_code` follows the CLI
contract. The steps live beside it: session (connections, facts, plan), change (the
transaction), admin_setup, verify; report holds Options and Report.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from hardening import rekey
from hardening.change import rotate, transact
from hardening.desired import Request
from hardening.errors import EXIT_DRIFT, ApplyFailed, HardeningError
from hardening.evidence import host_evidence
from hardening.report import Options, Report
from hardening.session import PENDING, Session
from hardening.transport import Progress, Target

__all__ = ["Options", "Report", "apply", "check", "plan", "rotate_host_key"]

DEFAULTS = Options()  # frozen: one instance serves every call


def _run(
    action: str,
    body: Callable[[Session], None],
    target: Target,
    request: Request,
    options: Options,
    progress: Progress | None,
) -> Report:
    run = Session(action, target, request, options, progress)
    started = time.monotonic()
    try:
        body(run)
    except HardeningError as exc:
        run.report.error = str(exc)
        run.report.exit_code = exc.exit_code
        if isinstance(exc, ApplyFailed):
            run.report.rolled_back = exc.rolled_back
    except Exception as exc:  # a bug must not hide what happened to the host
        run.report.error = (
            f"internal error ({type(exc).__name__}: {exc}); if a change was under way, the "
            f"host rolls back by itself within {options.confirm_timeout}s"
        )
        run.report.exit_code = ApplyFailed.exit_code
    run.report.seconds = time.monotonic() - started
    return run.report


def check(
    target: Target, request: Request, options: Options = DEFAULTS, progress: Progress | None = None
) -> Report:
    """Read-only: does `sshd -T` show every wanted value? Exit 1 with the drift if not."""

    def body(run: Session) -> None:
        with run.open_first() as conn:
            facts = run.gather(conn)
            run.report.evidence = host_evidence(run.target.host, run.target.port, facts)
            run.plan(conn, facts)
        run.finish_read_only()
        if facts.lock_holder is not None:
            # Unconfirmed: the host's own rollback may still undo what sshd -T shows now.
            run.report.notes.append(f"a change is in progress on the host ({PENDING})")
            run.report.compliant = False
        if not run.report.compliant:
            run.report.exit_code = EXIT_DRIFT

    return _run("check", body, target, request, options, progress)


def plan(
    target: Target, request: Request, options: Options = DEFAULTS, progress: Progress | None = None
) -> Report:
    """Read-only: what `apply` would change, and where."""

    def body(run: Session) -> None:
        with run.open_first() as conn:
            facts = run.gather(conn)
            p = run.plan(conn, facts)
            run.preflight(facts, p)
            if facts.lock_holder is not None:
                run.report.notes.append(f"a change is in progress on the host ({PENDING})")
            if p.needs_admin:
                run.report.notes.append(
                    f"root will lose SSH login: {request.admin_user} "
                    "would be ensured and proven first"
                )
        run.finish_read_only()

    return _run("plan", body, target, request, options, progress)


def apply(
    target: Target, request: Request, options: Options = DEFAULTS, progress: Progress | None = None
) -> Report:
    """Harden: validated, proven from a fresh connection, rolled back on its own on failure."""

    def body(run: Session) -> None:
        with run.open_first() as conn:
            facts = run.gather(conn, settle=True)
            p = run.plan(conn, facts)
            run.preflight(facts, p)
            # A transaction still on the host (its rollback pending) makes these facts
            # provisional: transact waits for it and reads the host again.
            if (p.changes or facts.lock_holder is not None) and transact(run, conn, facts, p):
                return
            run.finish_read_only()
            if not run.report.compliant:
                raise ApplyFailed(
                    "our settings are in place but sshd -T still shows "
                    + ", ".join(f"{n}={run.report.settings[n]['after']}" for n in run.report.drift)
                    + " (a Match block or a setting sshd reads elsewhere?)"
                )
            run.say(f"{target.host}: compliant, nothing to change")

    return _run("apply", body, target, request, options, progress)


def rotate_host_key(
    target: Target, request: Request, options: Options = DEFAULTS, progress: Progress | None = None
) -> Report:
    """A fresh ed25519 host key for a compliant host, through a transaction.

    The fresh login that confirms it must meet the new key (pinned to it): only then is the
    old one gone. `report.host_key_fingerprint`/`host_public_key` name the key now presented.
    """

    def body(run: Session) -> None:
        with run.open_first() as conn:
            facts = run.gather(conn)
            p = run.plan(conn, facts)
            if p.changes or not p.compliant or facts.lock_holder is not None:
                raise ApplyFailed(
                    "host keys are rotated only on a compliant host with no change under way: "
                    "apply first (nothing changed)",
                    untouched=True,
                )
            key = rekey.new_host_key()
            p = dataclasses.replace(p, files=rekey.host_key_files(key), notes=[])
            rotate(run, conn, facts, p, key.fingerprint)
            run.report.host_key_fingerprint = key.fingerprint
            run.report.host_public_key = key.public
            run.report.files = [f.path for f in p.files]
            run.report.changed = True
            run.say(f"{target.host}: new host key {key.fingerprint} confirmed")

    return _run("rotate-host-key", body, target, request, options, progress)
