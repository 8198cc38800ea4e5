"""The plan: desired settings against host facts -> drift, files to write, how to reload.

Pure: no I/O. `make_plan` decides where our settings must live to win (a drop-in that sorts
first, or a block at the top of the main file), which files change, and what `sshd -T` must
show afterwards. "Effective" means one thing throughout: a value as the host's `sshd -T` prints
it (HostFacts.effective, DirectiveValues.effective, effective_matches).
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hardening.host.facts import HostFacts
from hardening.host.paths import DROPIN_DIR, MAIN_CONFIG, staged_path
from hardening.model.desired import Request, desired_settings
from hardening.model.directives import CATALOGUE
from hardening.planning import port, socket_port, sshd_config
from hardening.planning.file_modes import ModeChange, mode_changes

DROPIN_PATH = posixpath.join(DROPIN_DIR, sshd_config.DROPIN_NAME)


@dataclass(frozen=True)
class DirectiveValues:
    """One managed directive: what we want, what `sshd -T` shows now."""

    directive: str
    wanted: str
    effective: str | None  # None: sshd -T does not print it (unset, e.g. AllowUsers)

    @property
    def key(self) -> str:
        return self.directive.lower()

    @property
    def compliant(self) -> bool:
        return effective_matches(self.directive, self.wanted, self.effective)


def effective_matches(directive: str, wanted: str, effective: str | None) -> bool:
    """Does the value `sshd -T` shows (`effective`; None: not printed) mean `wanted`?"""
    if effective is None:
        return False
    d = CATALOGUE[directive.lower()]
    return d.comparable(wanted) == d.fold(effective)


@dataclass(frozen=True)
class FileChange:
    path: str
    content: str | None  # None: remove the file


@dataclass(frozen=True)
class ServiceCommands:
    reload: str
    restart: str  # when the listener did not come back
    # How the on-host rollback watcher outlives our SSH session: "systemd-run" (a transient
    # unit of its own, which logind's KillUserProcesses= cannot reach) or "setsid".
    watcher: str = "setsid"


@dataclass(frozen=True)
class Plan:
    settings: list[DirectiveValues]
    mode: str  # "dropin" or "inplace"
    mode_reason: str
    files: list[FileChange]
    validation_main: str  # what `sshd -t -f` checks (equals the candidate configuration)
    needs_admin: bool  # connected as root and root is about to lose key login
    service: ServiceCommands
    restart_needed: bool  # the daemon's own command line must change (files alone won't do)
    notes: list[str] = field(default_factory=list)
    # Files whose mode or owner the enforced file controls fail (CIS 5.1.1-5.1.3).
    modes: list[ModeChange] = field(default_factory=list)

    @property
    def drift(self) -> list[DirectiveValues]:
        return [s for s in self.settings if not s.compliant]

    @property
    def compliant(self) -> bool:
        return not self.drift

    @property
    def changes(self) -> bool:
        return bool(self.files) or bool(self.modes) or self.restart_needed

    def wanted(self) -> dict[str, str]:
        return {s.directive: s.wanted for s in self.settings}


def service_commands(facts: HostFacts) -> ServiceCommands:
    """`ssh` vs `sshd`, systemd vs init script vs a bare daemon: reload the way the host does."""
    svc = facts.service
    name = svc.name
    # Outside our SSH session: logind (KillUserProcesses=yes) kills what a session leaves.
    watcher = "systemd-run" if svc.manager == "systemd" else "setsid"
    if svc.manager == "systemd" and any(u.endswith(".service") for u in svc.units):
        unit = f"{name}.service"
        if svc.socket_activated:
            # The socket unit owns the listener and hands it to sshd at start. A SIGHUP makes
            # sshd re-exec and lose it (Debian: "fatal: Cannot bind any address", unit
            # failed); restarting the service hands it over again, and connections wait in
            # the socket meanwhile. An inactive service (Accept=yes: sshd per connection)
            # has nothing to reload: try-restart leaves it alone.
            running = svc.units.get(unit, ("", ""))[1] == "active"
            return ServiceCommands(
                reload=f"{socket_port.RESET_START_LIMIT}{unit}; systemctl try-restart {unit}",
                restart=(
                    f"{socket_port.RESET_START_LIMIT}{unit}; "
                    f"systemctl {'restart' if running else 'try-restart'} {unit}"
                ),
                watcher=watcher,
            )
        return ServiceCommands(
            reload=f"systemctl reload {unit}", restart=f"systemctl restart {unit}", watcher=watcher
        )
    if name in svc.init_scripts:
        return ServiceCommands(
            reload=f"/etc/init.d/{name} reload",
            restart=f"/etc/init.d/{name} restart",
            watcher=watcher,
        )
    pid_file = svc.pid_file or "/run/sshd.pid"
    return ServiceCommands(
        reload=f'kill -HUP "$(cat {pid_file})"', restart='"$(command -v sshd)"', watcher=watcher
    )


SYSCONFIG_SSHD = "/etc/sysconfig/sshd"
_CRYPTO_OPT_OUT = (
    "# hardened-ecs: sshd_config's crypto lists, not the system-wide crypto policy\n"
    "CRYPTO_POLICY=\n"
)


def cmdline_overrides(cmdline: str, keys: set[str]) -> dict[str, str]:
    """Managed keys set with -o on sshd's command line (key -> value): they beat sshd_config."""
    found: dict[str, str] = {}
    tokens = cmdline.split()
    for i, token in enumerate(tokens):
        if token == "-o" and i + 1 < len(tokens):
            option = tokens[i + 1]
        elif token.startswith("-o"):
            option = token[2:]
        else:
            continue
        name, _, value = option.partition("=")
        if name.lower() in keys:
            found[name.lower()] = value
    return found


def _crypto_policy_fix(facts: HostFacts, keys: set[str]) -> FileChange | None:
    """RHEL 8 / Alibaba Cloud Linux 3 start sshd with $CRYPTO_POLICY (-oCiphers=...): opt out."""
    if not cmdline_overrides(facts.listener_cmdline, keys) or facts.sysconfig_sshd is None:
        return None
    active = [
        ln.strip()
        for ln in facts.sysconfig_sshd.splitlines()
        if ln.strip().startswith("CRYPTO_POLICY=")
    ]
    if active == ["CRYPTO_POLICY="]:
        return None  # already opted out; the daemon only needs a restart to drop the options
    text = facts.sysconfig_sshd
    kept = "".join(
        ln for ln in text.splitlines(keepends=True) if not ln.strip().startswith("CRYPTO_POLICY=")
    )
    if kept and not kept.endswith("\n"):
        kept += "\n"
    return FileChange(SYSCONFIG_SSHD, kept + _CRYPTO_OPT_OUT)


def _choose_mode(
    main: str, dropins: Mapping[str, str], keys: set[str], placement: str
) -> tuple[str, str]:
    if placement == "block":
        return "inplace", (
            f"--placement block: managed block at the top of {MAIN_CONFIG}, where scanners "
            "that read only that file look"
        )
    include = sshd_config.covering_include(main, DROPIN_DIR)
    if include is None:
        return "inplace", f"{MAIN_CONFIG} has no Include of {DROPIN_DIR}: edited in place"
    earlier = sshd_config.keywords_before(main, include.number) & keys
    if earlier:
        return "inplace", (
            f"{MAIN_CONFIG} sets {', '.join(sorted(earlier))} before its Include line, which "
            "a drop-in cannot override: managed block at the top of the main file"
        )
    for name in sshd_config.included_in_order(include, DROPIN_DIR, dropins):
        if name == sshd_config.DROPIN_NAME:
            break
        clash = {ln.keyword for ln in sshd_config.global_lines(dropins[name])} & keys
        if clash:
            return "inplace", (
                f"{DROPIN_DIR}/{name} sorts before our drop-in and sets "
                f"{', '.join(sorted(clash))}: managed block at the top of the main file"
            )
    return "dropin", f"{DROPIN_PATH} (read first through {MAIN_CONFIG}'s Include)"


def _socket_port(
    facts: HostFacts, wanted_port: str | None, files: list[FileChange], service: ServiceCommands
) -> ServiceCommands:
    """Under socket activation the socket holds the port: its drop-in (planning/socket_port.py)
    joins `files` when it changes, and then the socket itself must be restarted."""
    name = facts.service.name
    change = socket_port.socket_change(name, facts.socket_port.get(name), wanted_port)
    if change is None:
        return service
    files.append(FileChange(*change))
    running = facts.service.units.get(f"{name}.service", ("", ""))[1] == "active"
    move = socket_port.move_commands(name, running)
    return dataclasses.replace(service, reload=move, restart=move)


def _host_port_lines(
    facts: HostFacts, main_clean: str, wanted_port: str | None
) -> tuple[list[FileChange], dict[str, str | None]]:
    """The host's drop-ins whose Port lines change (planning/port.py), and where `sshd -t`
    reads them from before the commit (name -> staged path).

    Raises port.FixedListen when a ListenAddress line pins another port than the wanted one.
    """
    include = sshd_config.covering_include(main_clean, DROPIN_DIR)
    names = (
        [] if include is None else sshd_config.included_in_order(include, DROPIN_DIR, facts.dropins)
    )
    theirs = {
        posixpath.join(DROPIN_DIR, n): facts.dropins[n]
        for n in names
        if n != sshd_config.DROPIN_NAME and n in facts.dropins
    }
    if wanted_port is not None:
        port.refuse_pinned({MAIN_CONFIG: main_clean, **theirs}, wanted_port)
    rewrite = port.rewrite(wanted_port is not None)
    files = [FileChange(p, rewrite(t)) for p, t in theirs.items() if rewrite(t) != t]
    staged: dict[str, str | None] = {posixpath.basename(f.path): staged_path(f.path) for f in files}
    return files, staged


def make_plan(
    request: Request,
    facts: HostFacts,
    client_algorithms: Mapping[str, Sequence[str]],
    connected_user: str,
) -> Plan:
    """Raises directives.BadValue when the request cannot be met on this host's OpenSSH, and
    port.FixedListen when the host pins another port than the wanted one."""
    wanted = desired_settings(request, facts.capabilities, client_algorithms)
    keys = {name.lower() for name in wanted}
    if "kbdinteractiveauthentication" in keys:
        # Its alias (8.7+) in an earlier file would win just the same.
        keys.add("challengeresponseauthentication")
    # What the running daemon really uses: its command line beats every file.
    on_cmdline = cmdline_overrides(facts.listener_cmdline, keys)
    live = {**facts.effective, **on_cmdline}
    settings = [
        DirectiveValues(name, value, live.get(name.lower())) for name, value in wanted.items()
    ]

    main_now = facts.main_config
    main_clean = sshd_config.strip_block(main_now)
    # Every other Port line is set aside (planning/port.py): none of them clashes with ours.
    mode, reason = _choose_mode(main_clean, facts.dropins, keys - {"port"}, request.placement)
    files, others = _host_port_lines(facts, main_clean, wanted.get("Port"))
    main_host = port.rewrite("Port" in wanted)(main_clean)
    if mode == "dropin":
        content = sshd_config.render_dropin(wanted)
        if facts.dropins.get(sshd_config.DROPIN_NAME) != content:
            files.append(FileChange(DROPIN_PATH, content))
        if main_host != main_now:  # an earlier in-place apply left a block: drop it
            files.append(FileChange(MAIN_CONFIG, main_host))
        include = sshd_config.covering_include(main_host, DROPIN_DIR)
        assert include is not None  # _choose_mode picked dropin because it exists
        check_main = sshd_config.validation_main(
            main_host, include, DROPIN_DIR, facts.dropins, staged_path(DROPIN_PATH), others
        )
    else:
        content = sshd_config.with_block(main_host, wanted)
        if content != main_now:
            files.append(FileChange(MAIN_CONFIG, content))
        if sshd_config.DROPIN_NAME in facts.dropins:
            files.append(FileChange(DROPIN_PATH, None))
        check_main = content
        include = sshd_config.covering_include(content, DROPIN_DIR)
        if others and include is not None:  # the drop-ins we rewrite, read from their stage
            skip_ours: dict[str, str | None] = {sshd_config.DROPIN_NAME: None, **others}
            check_main = sshd_config.validation_main(
                content, include, DROPIN_DIR, facts.dropins, "", skip_ours
            )

    service = service_commands(facts)
    notes: list[str] = []
    restart = bool(on_cmdline) and facts.sysconfig_sshd is not None
    if on_cmdline:
        fix = _crypto_policy_fix(facts, keys)
        if fix is not None:
            files.append(fix)
        if facts.sysconfig_sshd is not None:
            # Options come from the unit's environment, read only when sshd starts.
            service = dataclasses.replace(service, reload=service.restart)
            notes.append(
                f"the running sshd gets {', '.join(sorted(on_cmdline))} on its command line "
                f"(system-wide crypto policy): {SYSCONFIG_SSHD} opts out and sshd is restarted"
            )
        else:
            notes.append(
                f"the running sshd gets {', '.join(sorted(on_cmdline))} on its command line, "
                "which beats sshd_config; remove them from its service definition"
            )

    if facts.service.socket_activated:
        service = _socket_port(facts, wanted.get("Port"), files, service)

    modes = mode_changes(facts.file_modes, written={f.path for f in files if f.content})
    root_loses_login = wanted.get("PermitRootLogin") in ("no", "forced-commands-only")
    return Plan(
        settings=settings,
        mode=mode,
        mode_reason=reason,
        files=files,
        validation_main=check_main,
        needs_admin=connected_user == "root" and root_loses_login and (bool(files) or restart),
        service=service,
        restart_needed=restart,
        notes=notes,
        modes=modes,
    )
