"""The state one operation on one host shares between its steps: connections, facts, plan."""

from __future__ import annotations

import time
from collections.abc import Callable

from hardening.host import facts as facts_mod
from hardening.host.facts import HostFacts
from hardening.model.admin_account import admin_account_problem
from hardening.model.client import CLIENT_ALGORITHMS
from hardening.model.desired import Request
from hardening.model.directives import BadValue, banner_on_host_problem, lookup
from hardening.model.errors import (
    ApplyFailed,
    ConnectError,
    HardeningError,
    HostKeyError,
    UsageError,
)
from hardening.model.progress import Progress
from hardening.ops.evidence import host_evidence
from hardening.ops.report import Options, Report
from hardening.planning.plan import Plan, make_plan
from hardening.planning.port import FixedListen
from hardening.planning.sshd_config import BrokenBlock
from hardening.ssh.stats import Stats
from hardening.ssh.transport import Connection, SudoError, Target, connect, scaled
from hardening.ssh.trust import HostKeyPolicy


def _noop(_: str) -> None:
    return None


class Session:
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
        self.report = Report(target.host, target.port, action, name=target.name)
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
        port: int | None = None,
    ) -> Connection:
        """`port`: another than the target's (after a port move)."""
        target = self.target if user is None else self.target.as_user(user)
        if port is not None:
            target = Target(target.host, port, target.user, target.key, target.host_keys)
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
            wait=self.options.connect_budget if wait is None else wait,
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
        """Connect as --user; after a first apply root is closed, so fall back to the admin.

        When nothing answers on --port but the request moves sshd to another port, that one
        is tried too: an earlier apply may have moved it already (confirmed just before it was
        cut off), and the same command must converge."""
        admin = self.request.admin_user
        fallback = admin if self.target.user == "root" else None
        try:
            return self.open(fallback_user=fallback)
        except (HostKeyError, SudoError):
            raise
        except ConnectError:
            moved = port_of(self.request)
            if moved is None or moved == self.target.port:
                raise
            conn = self.open(fallback_user=fallback, port=moved, wait=0)
            self.report.port = moved
            self.report.notes.append(
                f"nothing answered on port {self.target.port}: sshd already listens on {moved}"
            )
            return conn

    def gather(self, conn: Connection, *, settle: bool = False) -> HostFacts:
        """Facts in one round trip; `settle` (apply) first waits for a running cloud-init."""
        wait = int(min(self.options.wait, 600)) if settle else 0
        try:
            facts = self.read_facts(conn, wait=wait)
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
        # The control results as read; after an apply, verify's fresh login reads them again.
        r.evidence = host_evidence(self.target.host, self.target.port, facts)
        return facts

    def read_facts(self, conn: Connection, *, wait: int = 0) -> HostFacts:
        """The host's facts in one round trip, for the gather and for the fresh login after a
        commit; `wait` > 0 first lets a running cloud-init finish. Raises FactsError."""
        script = facts_mod.facts_script(self.request.admin_user, wait, banner_of(self.request))
        result = conn.run(script, timeout=wait + conn.command_timeout, step="facts")
        return facts_mod.parse_facts(result.stdout)

    def plan(self, conn: Connection, facts: HostFacts) -> Plan:
        try:
            plan = make_plan(self.request, facts, CLIENT_ALGORITHMS, conn.target.user)
        except BadValue as exc:
            raise UsageError(f"{exc} (nothing changed)") from None
        except (BrokenBlock, FixedListen) as exc:
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
        banner = banner_of(request)
        if banner:
            problems.append(banner_on_host_problem(banner, facts.banner_file))
        found = [p for p in problems if p]
        if found:
            raise UsageError("; ".join(found) + " (nothing changed)")

    def finish_read_only(self) -> None:
        r = self.report
        r.compliant = not r.drift


def run_operation(
    action: str,
    body: Callable[[Session], None],
    target: Target,
    request: Request,
    options: Options,
    progress: Progress | None,
) -> Report:
    """Run `body` on a fresh Session; every outcome, failures and bugs included, is its Report."""
    session = Session(action, target, request, options, progress)
    started = time.monotonic()
    try:
        body(session)
    except HardeningError as exc:
        session.report.error = str(exc)
        session.report.exit_code = exc.exit_code
        if isinstance(exc, ApplyFailed):
            session.report.rolled_back = exc.rolled_back
    except Exception as exc:  # a bug must not hide what happened to the host
        session.report.error = (
            f"internal error ({type(exc).__name__}: {exc}); if a change was under way, the "
            f"host rolls back by itself within {options.confirm_timeout}s"
        )
        session.report.exit_code = ApplyFailed.exit_code
    session.report.seconds = time.monotonic() - started
    return session.report


def banner_of(request: Request) -> str:
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


def port_of(request: Request) -> int | None:
    """The Port the request moves sshd to (None: not set, or not a port)."""
    for name, value in request.overrides.items():
        directive = lookup(name)
        if directive is not None and directive.name == "Port":
            try:
                return int(directive.normalize(value))
            except BadValue:
                return None  # the plan reports the value itself
    return None


PENDING = "an apply holds the host lock; its rollback may still run: check again later"


def connection_spec(user: str, facts: HostFacts) -> str:
    return f"user={user},host={facts.client_addr},addr={facts.client_addr}"
