"""apply / check / plan against one host: facts -> plan -> transaction, reported as a `Report`.

Takes the transport's Target; adapters (CLI, fleet, provider) call hardening.ops.api, which builds
it. Every outcome, failures included, comes back as a Report whose `exit_code` follows the CLI
contract. The operations' steps, in order, are pipeline.py's; rotation.py rotates the host key;
report holds Options and Report.
"""

from __future__ import annotations

from hardening.model.desired import Request
from hardening.model.progress import Progress
from hardening.ops import pipeline
from hardening.ops.report import DEFAULTS, Options, Report
from hardening.ops.session import run_operation
from hardening.ssh.transport import Target

__all__ = ["Options", "Report", "apply", "check", "plan"]


def check(
    target: Target, request: Request, options: Options = DEFAULTS, progress: Progress | None = None
) -> Report:
    """Read-only: does `sshd -T` show every wanted value? Exit 1 with the drift if not."""
    return run_operation("check", pipeline.check, target, request, options, progress)


def plan(
    target: Target, request: Request, options: Options = DEFAULTS, progress: Progress | None = None
) -> Report:
    """Read-only: what `apply` would change, and where."""
    return run_operation("plan", pipeline.preview, target, request, options, progress)


def apply(
    target: Target, request: Request, options: Options = DEFAULTS, progress: Progress | None = None
) -> Report:
    """Harden: validated, proven from a fresh connection, rolled back on its own on failure."""
    return run_operation("apply", pipeline.apply, target, request, options, progress)
