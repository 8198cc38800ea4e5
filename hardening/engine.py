"""apply / check / plan against one host: facts -> plan -> transaction, reported as a `Report`.

This is the API the CLI, fleet mode and the Pulumi provider call. Every outcome, failures
included, comes back as a Report whose `exit_code` follows the CLI contract.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hardening import facts as facts_mod
from hardening import rekey
from hardening.admin_account import admin_account_problem
from hardening.desired import Request
from hardening.directives import BadValue, banner_on_host_problem, lookup
from hardening.errors import (
    EXIT_DRIFT,
    EXIT_OK,
    ApplyFailed,
    ConnectError,
    HardeningError,
    UsageError,
)
from hardening.facts import HostFacts
from hardening.keys import public_line
from hardening.plan import Plan, Setting, effective_matches, make_plan
from hardening.sshd_config import BrokenBlock
from hardening.transaction import (
    BusyError,
    Transaction,
    admin_script,
    admin_undo_script,
)
from hardening.transport import (
    CLIENT_ALGORITHMS,
    COMMAND_TIMEOUT,
    Connection,
    HostKeyPolicy,
    Progress,
    Result,
    Stats,
    SudoError,
    Target,
    connect,
    scaled,
)


@dataclass(frozen=True)
class Options:
    wait: float = 300.0  # how long to wait for a booting host (connect retries)
    confirm_timeout: int = 120  # the host rolls back by itself after this many seconds
    verify_wait: float = 20.0  # how long a fresh connection may take after the reload
    command_timeout: float = COMMAND_TIMEOUT  # seconds one remote command may take in total


@dataclass
class Report:
    host: str
    port: int
    action: str
    changed: bool = False
    compliant: bool = False
    rolled_back: bool = False
    error: str | None = None
    exit_code: int = EXIT_OK
    settings: dict[str, dict[str, str | None]] = field(default_factory=dict)
    host_key_fingerprint: str | None = None
    # After a host-key rotation: the public line of the key the host presents now.
    host_public_key: str | None = None
    user: str | None = None
    openssh: str | None = None
    os: str | None = None
    mode: str | None = None
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "action": self.action,
            "changed": self.changed,
            "compliant": self.compliant,
            "rolled_back": self.rolled_back,
            "error": self.error,
            "exit_code": self.exit_code,
            "user": self.user,
            "host_key_fingerprint": self.host_key_fingerprint,
            "host_public_key": self.host_public_key,
            "openssh": self.openssh,
            "os": self.os,
            "mode": self.mode,
            "files": self.files,
            "settings": self.settings,
            "notes": self.notes,
            "connections": self.stats.connections,
            "commands": self.stats.commands,
            "seconds": round(self.seconds, 3),
        }

    @property
    def drift(self) -> list[str]:
        return [n for n, s in self.settings.items() if s["after"] is None or not _ok(n, s)]


def _ok(name: str, s: dict[str, str | None]) -> bool:
    return effective_matches(name, s["wanted"] or "", s["after"])


def _noop(_: str) -> None:
    return None


class _Run:
    """State shared by the steps of one operation on one host."""

    def __init__(
        self,
        action: str,
        target: Target,
        request: Request,
        options: Options,
        progress: Progress | None,
    ) -> None:
        self.target = target
        self.request = request
        self.options = options
        self.say: Progress = progress or _noop
        self.report = Report(target.host, target.port, action)
        self.stats = self.report.stats
        self.rtt = 0.0  # the first connection's measured round trip (time-outs scale with it)

    def open(
        self,
        user: str | None = None,
        *,
        wait: float | None = None,
        pin: str | None = None,
        fallback_user: str | None = None,
        stats: Stats | None = None,
    ) -> Connection:
        target = self.target if user is None else self.target.as_user(user)
        if pin is not None:  # fresh connections must meet the very server we changed
            target = Target(
                target.host,
                target.port,
                target.user,
                target.key,
                HostKeyPolicy(pinned_fingerprint=pin),
            )
        conn = connect(
            target,
            wait=self.options.wait if wait is None else wait,
            stats=self.stats if stats is None else stats,
            progress=self.say,
            fallback_user=fallback_user,
            command_timeout=self.options.command_timeout,
        )
        self.rtt = self.rtt or conn.rtt
        return conn

    def reopen(self, pin: str) -> Connection:
        """After a failure: the original user (or the admin), same server, short wait."""
        wait, admin = scaled(30.0, self.rtt, 150), self.request.admin_user
        return self.open(self.target.user, wait=wait, pin=pin, fallback_user=admin)

    def open_first(self) -> Connection:
        """Connect as --user; after a first apply root is closed, so fall back to the admin."""
        admin = self.request.admin_user
        return self.open(fallback_user=admin if self.target.user == "root" else None)

    def gather(self, conn: Connection, *, settle: bool = False) -> HostFacts:
        """Facts in one round trip; `settle` (apply) first waits for a running cloud-init."""
        wait = int(min(self.options.wait, 600)) if settle else 0
        result = conn.run(
            facts_mod.facts_script(self.request.admin_user, wait, _banner(self.request)),
            timeout=wait + conn.command_timeout,
        )
        try:
            facts = facts_mod.parse_facts(result.stdout)
        except facts_mod.FactsError as exc:
            raise ApplyFailed(f"cannot read facts from {self.target.host}: {exc}") from None
        r = self.report
        r.openssh, r.os = facts.version_text, facts.os_name
        r.host_key_fingerprint = conn.host_key_fingerprint
        r.user = conn.target.user
        if facts.uid != 0:
            raise ConnectError(
                f"commands on {self.target.host} run as uid {facts.uid}, not root, even through "
                "sudo; connect as root or as a user with passwordless sudo"
            )
        if facts.sshd_test_error:
            raise ApplyFailed(
                "the host's current sshd configuration is already invalid, nothing changed; "
                f"fix it first: {facts.sshd_test_error}"
            )
        return facts

    def plan(self, conn: Connection, facts: HostFacts) -> Plan:
        try:
            plan = make_plan(self.request, facts, CLIENT_ALGORITHMS, conn.target.user)
        except BadValue as exc:
            raise UsageError(f"{exc} (nothing changed)") from None
        except BrokenBlock as exc:
            raise ApplyFailed(f"{exc} (nothing changed)", untouched=True) from None
        self.report.mode = plan.mode
        self.report.files = [f.path for f in plan.files]
        self.report.notes.append(plan.mode_reason)
        self.report.notes.extend(plan.notes)
        for s in plan.settings:
            self.report.settings[s.directive] = {
                "wanted": s.wanted,
                "before": s.effective,
                "after": s.effective,
            }
        return plan

    def preflight(self, facts: HostFacts, plan: Plan) -> None:
        """Before anything changes: what the change would hand out must be safe to hand out.

        The account the admin step would make root-capable, and the file sshd would show to
        every client before login.
        """
        request = self.request
        problems = []
        if plan.needs_admin:
            account = facts.admin.account
            problems.append(admin_account_problem(request.admin_user, account, request.adopt_admin))
        banner = _banner(request)
        if banner:
            problems.append(banner_on_host_problem(banner, facts.banner_file))
        found = [p for p in problems if p]
        if found:
            raise UsageError("; ".join(found) + " (nothing changed)")

    def finish_read_only(self) -> None:
        r = self.report
        r.compliant = not r.drift


def _banner(request: Request) -> str:
    """The Banner file the request sets ("" for none or not set)."""
    for name, value in request.overrides.items():
        directive = lookup(name)
        if directive is not None and directive.name == "Banner":
            try:
                path = directive.normalize(value)
            except BadValue:
                return ""  # the plan reports the value itself
            return "" if path == "none" else path
    return ""


PENDING = "an apply holds the host lock; its rollback may still run: check again later"


def _spec(user: str, facts: HostFacts) -> str:
    return f"user={user},host={facts.client_addr},addr={facts.client_addr}"


def _run(
    action: str,
    body: Callable[[_Run], None],
    target: Target,
    request: Request,
    options: Options,
    progress: Progress | None,
) -> Report:
    run = _Run(action, target, request, options, progress)
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
    target: Target, request: Request, options: Options = Options(), progress: Progress | None = None
) -> Report:
    """Read-only: does `sshd -T` show every wanted value? Exit 1 with the drift if not."""

    def body(run: _Run) -> None:
        with run.open_first() as conn:
            facts = run.gather(conn)
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
    target: Target, request: Request, options: Options = Options(), progress: Progress | None = None
) -> Report:
    """Read-only: what `apply` would change, and where."""

    def body(run: _Run) -> None:
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
    target: Target, request: Request, options: Options = Options(), progress: Progress | None = None
) -> Report:
    """Harden: validated, proven from a fresh connection, rolled back on its own on failure."""

    def body(run: _Run) -> None:
        with run.open_first() as conn:
            facts = run.gather(conn, settle=True)
            p = run.plan(conn, facts)
            run.preflight(facts, p)
            # A transaction still on the host (its rollback pending) makes these facts
            # provisional: _transact waits for it and reads the host again.
            if (p.changes or facts.lock_holder is not None) and _transact(run, conn, facts, p):
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
    target: Target, request: Request, options: Options = Options(), progress: Progress | None = None
) -> Report:
    """A fresh ed25519 host key for a compliant host, through a transaction.

    The fresh login that confirms it must meet the new key (pinned to it): only then is the
    old one gone. `report.host_key_fingerprint`/`host_public_key` name the key now presented.
    """

    def body(run: _Run) -> None:
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
            _rotate(run, conn, facts, p, key.fingerprint)
            run.report.host_key_fingerprint = key.fingerprint
            run.report.host_public_key = key.public
            run.report.files = [f.path for f in p.files]
            run.report.changed = True
            run.say(f"{target.host}: new host key {key.fingerprint} confirmed")

    return _run("rotate-host-key", body, target, request, options, progress)


def _rotate(run: _Run, conn: Connection, facts: HostFacts, p: Plan, new_pin: str) -> None:
    """Lock, stage + validate, commit, then a fresh login pinned to `new_pin` confirms."""
    old_pin = conn.host_key_fingerprint
    txn = Transaction(conn, p, _spec(conn.target.user, facts), run.options.confirm_timeout)
    committed_at: float | None = None
    try:
        waited, _ = _lock(run, txn)
        if waited:
            txn.abort()
            raise ApplyFailed("another apply ran meanwhile; rotate again", untouched=True)
        # sshd -t with the live configuration; no sshd_config file changes here, so the
        # candidate's sshd -T is not compared (the fresh login re-plans the live one instead).
        txn.stage()
        committed_at = time.monotonic()
        txn.commit()
        run.report.rolled_back = False
        _verify(run, txn, conn.target.user, new_pin, committed_at + run.options.confirm_timeout)
    except ApplyFailed as exc:
        if exc.untouched and conn.alive:
            txn.abort()
        raise
    except ConnectError as exc:
        until = None if committed_at is None else committed_at + run.options.confirm_timeout
        # Either key may answer now: the host's own rollback restores the old one.
        outcome = txn.recover(lambda: run.reopen(old_pin), until)
        raise ApplyFailed(
            f"{exc} while rotating the host key; " + _ROLLBACK_SAYS.get(outcome, outcome),
            rolled_back=outcome in ("rolled-back", "gone"),
            untouched=outcome == "aborted",
        ) from None


def _undo_failed(result: Result) -> str:
    """What the admin undo could not take back, for the operator's message."""
    left = [ln.split()[1] for ln in result.stdout.splitlines() if ln.startswith("@undo-failed ")]
    return (
        f" (except: could not remove the admin {', '.join(left)}; remove by hand)" if left else ""
    )


def _admin_ready(run: _Run, conn: Connection, result: Result | None) -> list[str]:
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
            + _undo_failed(undone),
            untouched=True,
        )
    return did


class _AdminProof:
    """The admin user logs in and sudoes from a fresh connection, in the background.

    It overlaps staging, which changes nothing live (candidates beside their targets, sshd -t)
    and so does not depend on it; the commit, the step that closes root's login, waits for
    its outcome (`wait`). So the admin is still proven before root is closed, and the proof's
    connection no longer costs the apply its own round trips."""

    def __init__(self, run: _Run, pin: str) -> None:
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


def _proof_failed(run: _Run, conn: Connection, did: list[str], exc: ConnectError) -> ApplyFailed:
    admin, key_line = run.request.admin_user, public_line(run.target.key)
    undone = conn.run(admin_undo_script(admin, key_line, did))
    return ApplyFailed(
        f"admin user {admin} could not log in and sudo from a fresh connection ({exc}); "
        "root keeps its access and nothing changed" + _undo_failed(undone),
        untouched=True,
    )


def _lock(run: _Run, txn: Transaction, then: str = "") -> tuple[bool, Result | None]:
    """Take the host lock, waiting (up to --wait) for another apply; True if we had to wait.

    `then` (the admin step) runs in the same command as a first, unopposed lock; after a wait
    the host is read again and the caller runs it itself (the Result is None then).
    """
    give_up = time.monotonic() + run.options.wait
    waited = False
    while True:
        try:
            return waited, txn.lock("" if waited else then)
        except BusyError as exc:
            waited = True
            if time.monotonic() > give_up:
                raise ApplyFailed(
                    f"{exc}; gave up after --wait {run.options.wait:g}s", untouched=True
                ) from None
            run.say(f"{run.target.host}: {exc}; waiting")
            time.sleep(2)


def _transact(run: _Run, conn: Connection, facts: HostFacts, p: Plan) -> bool:
    """Lock, (admin user), stage + validate, commit, verify + confirm; undo on failure.

    Returns False when, read again under the lock, the host needs no change after all.
    """
    host, pin = run.target.host, conn.host_key_fingerprint
    txn = Transaction(conn, p, _spec(conn.target.user, facts), run.options.confirm_timeout)
    undo = ""
    committed_at: float | None = None
    admin, key_line = run.request.admin_user, public_line(run.target.key)
    try:
        # With no other transaction in sight, the admin step rides with the lock: one command.
        early = ""
        if p.needs_admin and facts.lock_holder is None:
            early = admin_script(admin, key_line, adopt=run.request.adopt_admin)
        waited, admin_result = _lock(run, txn, early)
        if waited or facts.lock_holder is not None:
            # Another transaction ended while we waited: plan from what the host has now.
            facts = run.gather(conn)
            p = txn.plan = run.plan(conn, facts)
            if not p.changes:
                txn.abort()
                return False
            run.preflight(facts, p)
        verify_user = admin if p.needs_admin else conn.target.user
        txn.check_spec = _spec(verify_user, facts)
        proof: _AdminProof | None = None
        if p.needs_admin:
            did = _admin_ready(run, conn, admin_result)
            undo = admin_undo_script(admin, key_line, did)
            proof = _AdminProof(run, pin)
        try:
            candidate = txn.stage()
        finally:
            failed = proof.wait() if proof is not None else None
        if failed is not None:
            undo = ""  # _proof_failed undoes it
            raise _proof_failed(run, conn, did, failed)
        wrong = _mismatches(p.settings, candidate)
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
        again = _verify(run, txn, verify_user, pin, deadline)
    except ApplyFailed as exc:
        if exc.untouched and conn.alive:
            txn.abort()
        # Leave the host as it was: the admin user we made goes with the change. Not when
        # the new sshd config may still be live (then it is the way back in).
        if undo and (exc.rolled_back or exc.untouched) and conn.alive:
            conn.run(undo)
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
    run.say(f"{host}: hardened and confirmed ({len(p.drift)} settings changed)")
    return True


_ROLLBACK_SAYS = {
    "rolled-back": "rolled back to the previous configuration",
    "gone": "the host had already rolled back by itself (the confirm timeout had passed)",
    "aborted": "nothing had changed",
    "unknown": "the host's own rollback should have restored it by now; check the host",
}


def _verify(run: _Run, txn: Transaction, user: str, pin: str, deadline: float) -> Plan:
    """A fresh login under the new configuration: re-plan from fresh facts, then confirm."""
    # Never outlive the host's own rollback: a login after it would meet the old config.
    # A slow link gets more (100 round trips at least), never beyond the rollback.
    verify_wait = scaled(run.options.verify_wait, run.rtt, 100)
    wait = max(scaled(3.0, run.rtt, 20), min(verify_wait, deadline - time.monotonic() - 5))
    try:
        with run.open(user, wait=wait, pin=pin) as fresh:
            # The proof: fresh facts, planned again, must leave nothing to do.
            again = _replan(run, fresh)
            wrong = [f"{s.directive} is {s.effective} instead of {s.wanted}" for s in again.drift]
            wrong += [f"{f.path} would still change" for f in again.files]
            wrong += _negotiated_outside(fresh, txn.plan)
            if wrong or again.restart_needed:
                raise ApplyFailed("verification failed: " + "; ".join(wrong or again.notes))
            txn.confirm(fresh)
            return again
    except HardeningError as exc:
        outcome = txn.rollback()
        if outcome == "unreachable":
            run.say(f"{run.target.host}: lost the original connection; the host rolls back itself")
            outcome = txn.recover(lambda: run.reopen(pin), deadline)
        raise ApplyFailed(
            f"the new configuration failed the fresh-connection check ({exc}); "
            + _ROLLBACK_SAYS[outcome],
            rolled_back=outcome in ("rolled-back", "gone"),
        ) from None


def _replan(run: _Run, conn: Connection) -> Plan:
    result = conn.run(facts_mod.facts_script(run.request.admin_user, 0, _banner(run.request)))
    try:
        facts = facts_mod.parse_facts(result.stdout)
    except facts_mod.FactsError as exc:
        raise ApplyFailed(f"cannot read facts after the change: {exc}") from None
    if facts.sshd_test_error:
        raise ApplyFailed(f"sshd -T fails after the change: {facts.sshd_test_error}")
    return make_plan(run.request, facts, CLIENT_ALGORITHMS, conn.target.user)


def _mismatches(settings: list[Setting], effective: dict[str, str]) -> list[str]:
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
