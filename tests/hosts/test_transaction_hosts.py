"""The transaction's wire protocol on a real host: txn.sh goes over the wire once, with the
lock, and later steps load the copy the lock kept; without that copy they are sent whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hardening.change.protocol import TxnState
from hardening.change.transaction import Transaction
from hardening.host import facts as facts_mod
from hardening.host.paths import staged_path
from hardening.model.client import CLIENT_ALGORITHMS
from hardening.model.desired import Request
from hardening.ops import engine
from hardening.ops.session import connection_spec
from hardening.planning.plan import DROPIN_PATH, make_plan
from hardening.ssh.stats import Stats
from hardening.ssh.transport import Connection, Result, connect
from tests.conftest import HostFactory
from tests.helpers.chroot_observe import loopback_target

LOCK = "/var/lib/hardened-ecs/lock"
# A line of txn.sh itself: in a command, it means the whole script went over the wire.
LIBRARY_LINE = "take_stale_lock() {"


class Recording(Connection):
    """A Connection that keeps every script it sends."""

    sent: list[str]

    def run(self, script: str, **options: Any) -> Result:
        self.sent.append(script)
        return super().run(script, **options)


def _open(port: int, key: Path, tmp_path: Path) -> Recording:
    conn = connect(loopback_target(port, "root", key, tmp_path), wait=20, stats=Stats())
    conn.__class__ = Recording
    assert isinstance(conn, Recording)
    conn.sent = []
    return conn


def _transaction(conn: Recording) -> Transaction:
    """A transaction of the default request on this host, planned from its facts; the
    recording starts after them."""
    facts = facts_mod.parse_facts(conn.run(facts_mod.facts_script("ops")).stdout)
    plan = make_plan(Request(), facts, CLIENT_ALGORITHMS, "root")
    conn.sent.clear()
    return Transaction(conn, plan, connection_spec("root", facts), 30)


def test_the_script_goes_once_and_is_sent_again_only_when_its_copy_is_gone(
    host_factory: HostFactory, client_key: Path, tmp_path: Path
) -> None:
    host = host_factory()
    conn = _open(host.port, client_key, tmp_path)
    with conn:
        txn = _transaction(conn)

        txn.lock()
        kept = host.path(f"{LOCK}/txn.sh").read_text()
        assert LIBRARY_LINE in kept and LIBRARY_LINE in conn.sent[0]
        assert host.run(f"stat -c %a {LOCK}/txn.sh", check=True).stdout.strip() == "600"

        first = txn.stage()
        assert len(conn.sent) == 2 and LIBRARY_LINE not in conn.sent[1]
        assert first["permitrootlogin"] == "no"

        # The copy gone (as when the lock is no longer ours): the step is sent again, whole.
        host.run(f"rm {LOCK}/txn.sh", check=True)
        again = txn.stage()
        assert again == first
        assert len(conn.sent) == 4 and LIBRARY_LINE in conn.sent[3]

        txn.abort()
        assert not host.path(LOCK).exists()


def test_the_admin_step_and_the_staging_ride_with_the_lock_and_a_failed_step_stops_it(
    host_factory: HostFactory, client_key: Path, tmp_path: Path
) -> None:
    host = host_factory()
    conn = _open(host.port, client_key, tmp_path)
    with conn:
        txn = _transaction(conn)

        # A step that fails, and says a line that looks like the end marker: staging never runs.
        failing = "echo '@then-exit 0'; echo did-the-step; exit 7\n"
        then, staged = txn.lock(failing, stage=True)
        assert len(conn.sent) == 1
        assert then is not None and then.status == 7 and "did-the-step" in then.stdout
        assert staged is None
        assert not host.path(staged_path(DROPIN_PATH)).exists()
        txn.abort()

        then, staged = txn.lock("echo did-the-step\n", stage=True)
        assert len(conn.sent) == 3  # the failed lock, its abort, this one
        assert then is not None and then.status == 0 and then.stdout == "did-the-step\n"
        assert staged is not None
        assert txn.staged(staged)["permitrootlogin"] == "no"
        assert host.path(staged_path(DROPIN_PATH)).exists()
        txn.abort()
        assert not host.path(LOCK).exists()


def test_a_fresh_apply_is_two_logins_and_four_commands_in_this_order(
    host_factory: HostFactory, client_key: Path, tmp_path: Path
) -> None:
    """What a fresh apply as root costs on the wire (issues 12, 22): the admin step and the
    staging ride with the lock, the admin is proven by the verifying login, not one of its
    own, and that login's facts and the confirm are one command (the host confirms only if
    its live sshd -T is the validated candidate's)."""
    host = host_factory()
    target = loopback_target(host.port, "root", client_key, tmp_path)

    report = engine.apply(target, Request(), engine.Options(wait=20))

    assert report.exit_code == 0 and report.changed, report.error
    steps = [entry["step"] for entry in report.as_dict()["timeline"]]
    assert steps == [
        "login as root",
        "facts",
        "lock + admin + stage",
        "commit",
        "login as ops",
        "facts + confirm",
    ]
    assert (report.stats.connections, report.stats.commands) == (2, 4)


def test_the_fresh_login_confirms_only_the_validated_sshd_T_from_the_validated_address(
    host_factory: HostFactory, client_key: Path, tmp_path: Path
) -> None:
    """confirm_if (issue 22): the facts run first in the same command; a digest or an address
    other than the validated ones leaves the committed transaction as it was, saying why."""
    host = host_factory()
    conn = _open(host.port, client_key, tmp_path)
    with conn:
        txn = _transaction(conn)
        _, staged = txn.lock(stage=True)
        assert staged is not None
        txn.staged(staged)
        validated, spec = txn.digest, txn.connection_spec
        assert validated is not None and validated.startswith("sha256:")
        txn.commit()
        facts = facts_mod.facts_script("ops")

        txn.digest = "sha256:" + "0" * 64
        out, why = txn.confirm_if_proven(conn, facts)
        assert why == f"sshd -T for {spec} differs from the validated candidate's"
        assert facts_mod.parse_facts(out).effective["permitrootlogin"] == "no"
        assert txn.state(conn) is TxnState.INSTALLED

        txn.digest, txn.connection_spec = validated, spec.replace("127.0.0.1", "192.0.2.7")
        _, why = txn.confirm_if_proven(conn, facts)
        assert why is not None and "address (127.0.0.1) is not the validated one" in why
        assert txn.state(conn) is TxnState.INSTALLED

        txn.connection_spec = spec
        out, why = txn.confirm_if_proven(conn, facts)
        assert why is None and facts_mod.parse_facts(out).uid == 0
        assert not host.path(LOCK).exists()


def test_a_fresh_apply_the_host_cannot_prove_is_proven_from_the_facts_then_confirmed(
    host_factory: HostFactory, client_key: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    """When the host's comparison says no (here: a digest it never printed), the apply proves
    the change from the facts the same command read, and confirms with a command of its own."""
    host = host_factory()
    target = loopback_target(host.port, "root", client_key, tmp_path)
    real = Transaction.confirm_if_proven

    def not_the_validated(self: Transaction, conn: Connection, before: str) -> Any:
        self.digest = "sha256:" + "0" * 64
        return real(self, conn, before)

    monkeypatch.setattr(Transaction, "confirm_if_proven", not_the_validated)
    said: list[str] = []
    report = engine.apply(target, Request(), engine.Options(wait=20), progress=said.append)

    assert report.exit_code == 0 and report.changed, report.error
    steps = [entry["step"] for entry in report.as_dict()["timeline"]]
    assert steps[-3:] == ["login as ops", "facts + confirm", "confirm"]
    assert any("proving from the facts instead" in str(line) for line in said), said
    assert not host.path(LOCK).exists()
