"""apply / check / plan against one host: facts -> plan -> transaction, reported as a `Report`.

Takes the transport's Target; adapters (CLI, fleet, provider) call hardening.ops.api, which builds
it. Every outcome, failures included, comes back as a Report whose `exit_code` follows the CLI
contract. The steps live beside it: session (connections, facts, plan), transact (the
transaction), admin_setup, verify, rotation (rotate-host-key); report holds Options and Report.
"""

from __future__ import annotations

from hardening.model.desired import Request
from hardening.model.errors import EXIT_DRIFT, ApplyFailed
from hardening.ops.evidence import host_evidence
from hardening.ops.report import DEFAULTS, Options, Report
from hardening.ops.session import PENDING, Session, run_operation
from hardening.ops.transact import transact
from hardening.planning.live_config import unloaded_edit
from hardening.ssh.transport import Progress, Target

__all__ = ["Options", "Report", "apply", "check", "plan"]


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

    return run_operation("check", body, target, request, options, progress)


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

    return run_operation("plan", body, target, request, options, progress)


def apply(
    target: Target, request: Request, options: Options = DEFAULTS, progress: Progress | None = None
) -> Report:
    """Harden: validated, proven from a fresh connection, rolled back on its own on failure."""

    def body(run: Session) -> None:
        with run.open_first() as conn:
            facts = run.gather(conn, settle=True)
            p = run.plan(conn, facts)
            run.preflight(facts, p)
            unloaded = unloaded_edit(facts)
            if unloaded and p.changes:
                raise ApplyFailed(unloaded, untouched=True)
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
            run.say(f"{target.shown}: compliant, nothing to change")

    return run_operation("apply", body, target, request, options, progress)
