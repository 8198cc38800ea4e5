"""Before root loses SSH: the admin user made ready, and proven from a fresh connection."""

from __future__ import annotations

import threading

from hardening.errors import ApplyFailed, ConnectError
from hardening.keys import public_line
from hardening.session import Session
from hardening.transaction import admin_script, admin_undo_script
from hardening.transport import Connection, Result, Stats, scaled


def undo_failed(result: Result) -> str:
    """What the admin undo could not take back, for the operator's message."""
    left = [ln.split()[1] for ln in result.stdout.splitlines() if ln.startswith("@undo-failed ")]
    return (
        f" (except: could not remove the admin {', '.join(left)}; remove by hand)" if left else ""
    )


def admin_ready(run: Session, conn: Connection, result: Result | None) -> list[str]:
    """Before root loses SSH: an admin user with our key and passwordless sudo.

    `result` is the admin step's, when it already ran with the lock (Transaction.lock);
    otherwise it runs here. Returns what it did (for admin_undo_script).
    """
    admin = run.request.admin_user
    key_line = public_line(run.target.key)
    if result is None:
        result = conn.run(admin_script(admin, key_line, adopt=run.request.adopt_admin))
    did = [ln.split()[1] for ln in result.stdout.splitlines() if ln.startswith("@did ")]
    if result.status != 0 or "@admin-ready" not in result.stdout:
        undone = conn.run(admin_undo_script(admin, key_line, did))
        raise ApplyFailed(
            f"could not prepare admin user {admin} (exit {result.status}): "
            f"{result.stderr.strip() or result.stdout.strip()}; nothing changed"
            + undo_failed(undone),
            untouched=True,
        )
    return did


class AdminProof:
    """The admin user logs in and sudoes from a fresh connection, in the background.

    It overlaps staging, which changes nothing live (candidates beside their targets, sshd -t)
    and so does not depend on it; the commit, the step that closes root's login, waits for
    its outcome (`wait`). So the admin is still proven before root is closed, and the proof's
    connection no longer costs the apply its own round trips."""

    def __init__(self, run: Session, pin: str) -> None:
        self._run, self._pin = run, pin
        self.error: ConnectError | None = None
        self._stats = Stats()  # its own counters, added to the run's once it is done
        self._thread = threading.Thread(target=self._prove, daemon=True)
        admin = run.request.admin_user
        run.say(f"{run.target.host}: proving {admin} can log in and sudo from a fresh connection")
        self._thread.start()

    def _prove(self) -> None:
        run = self._run
        try:
            wait = scaled(run.options.verify_wait, run.rtt, 100)
            with run.open(run.request.admin_user, wait=wait, pin=self._pin, stats=self._stats) as c:
                proof = c.run("true\n")
                if proof.status != 0:
                    raise ConnectError(f"sudo -n true failed: {proof.stderr.strip()}")
        except ConnectError as exc:
            self.error = exc
        except Exception as exc:  # a bug is a failed proof, never a silent pass
            self.error = ConnectError(f"internal error ({type(exc).__name__}: {exc})")

    def wait(self) -> ConnectError | None:
        # Bounded by the proof's own limits: verify_wait to connect, command_timeout to run.
        self._thread.join()
        self._run.stats.connections += self._stats.connections
        self._run.stats.commands += self._stats.commands
        return self.error


def proof_failed(run: Session, conn: Connection, did: list[str], exc: ConnectError) -> ApplyFailed:
    admin, key_line = run.request.admin_user, public_line(run.target.key)
    undone = conn.run(admin_undo_script(admin, key_line, did))
    return ApplyFailed(
        f"admin user {admin} could not log in and sudo from a fresh connection ({exc}); "
        "root keeps its access and nothing changed" + undo_failed(undone),
        untouched=True,
    )
