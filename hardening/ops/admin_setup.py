"""Before root loses SSH: the admin user made ready (the verifying login then proves it)."""

from __future__ import annotations

from hardening.change.admin import admin_script, admin_undo_script
from hardening.model.errors import ApplyFailed
from hardening.ops.session import Session
from hardening.ssh.keys import public_line
from hardening.ssh.transport import Connection, Result


def undo_failed(result: Result) -> str:
    """What the admin undo could not take back, for the operator's message."""
    left = [ln.split()[1] for ln in result.stdout.splitlines() if ln.startswith("@undo-failed ")]
    return (
        f" (except: could not remove the admin {', '.join(left)}; remove by hand)" if left else ""
    )


def admin_ready(session: Session, conn: Connection, result: Result | None) -> list[str]:
    """Before root loses SSH: an admin user with our key and passwordless sudo.

    `result` is the admin step's, when it already ran with the lock (Transaction.lock);
    otherwise it runs here. Returns what it did (for admin_undo_script).
    """
    admin = session.request.admin_user
    key_line = public_line(session.target.key)
    if result is None:
        result = conn.run(
            admin_script(admin, key_line, adopt=session.request.adopt_admin), step="admin"
        )
    did = [ln.split()[1] for ln in result.stdout.splitlines() if ln.startswith("@did ")]
    if result.status != 0 or "@admin-ready" not in result.stdout:
        undone = conn.run(admin_undo_script(admin, key_line, did), step="admin undo")
        raise ApplyFailed(
            f"could not prepare admin user {admin} (exit {result.status}): "
            f"{result.stderr.strip() or result.stdout.strip()}; nothing changed"
            + undo_failed(undone),
            untouched=True,
        )
    return did
