"""Facts read from a host: one remote script, one round trip, parsed into `HostFacts`.

The script (scripts/facts.sh) only reads. `parse_facts` is pure, so recorded outputs from many
distributions can be tested without a host.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

from hardening.host.listening import Endpoint, parse_listening
from hardening.host.paths import DROPIN_DIR, MAIN_CONFIG, SOCKET_DROPIN_NAME, STATE_DIR
from hardening.host.shell import SECTION, SSHD_RC, assign, shared_shell, shipped
from hardening.model.admin_account import Account
from hardening.model.capabilities import HostCapabilities
from hardening.model.directives import Version


def facts_script(admin_user: str, cloud_init_wait: int = 0, banner: str = "") -> str:
    """The facts script; `cloud_init_wait` > 0 first lets a running cloud-init finish;
    `banner`: the Banner file the request sets (its type, mode and owner are read)."""
    values = {
        "ADMIN": admin_user,
        "STATE": STATE_DIR,
        "CLOUD_INIT_WAIT": int(cloud_init_wait),
        "BANNER": banner,
        "MAIN_CONFIG": MAIN_CONFIG,
        "DROPIN_DIR": DROPIN_DIR,
        "SOCKET_DROPIN": SOCKET_DROPIN_NAME,
        "SECTION": SECTION,
        "SSHD_RC": SSHD_RC,
    }
    return assign(values) + shared_shell() + shipped("facts.sh")


@dataclass(frozen=True)
class Service:
    """How sshd runs on the host, and so how to reload it."""

    manager: str  # "systemd" or "none"
    units: dict[str, tuple[str, str]] = field(default_factory=dict)  # unit -> (enabled, active)
    init_scripts: tuple[str, ...] = ()
    pid_file: str | None = None
    listener_pid: int | None = None

    @property
    def name(self) -> str:
        """`ssh` (Debian/Ubuntu) or `sshd` (RHEL family, Alibaba Cloud Linux, SUSE, Arch)."""
        for unit, (enabled, active) in self.units.items():
            if unit.endswith(".service") and (active == "active" or enabled == "enabled"):
                return unit.removesuffix(".service")
        for unit, (_, active) in self.units.items():
            if unit.endswith(".socket") and active == "active":
                return unit.removesuffix(".socket")
        if self.init_scripts:
            return self.init_scripts[0]
        return "sshd"

    @property
    def socket_activated(self) -> bool:
        """Ubuntu 22.10+: systemd owns the port, each connection starts a fresh sshd."""
        return any(
            u.endswith(".socket") and active == "active" for u, (_, active) in self.units.items()
        )


@dataclass(frozen=True)
class AdminFacts:
    exists: bool
    home: str | None = None
    groups: tuple[str, ...] = ()
    authorized_keys: tuple[str, ...] = ()
    account: Account = field(default_factory=lambda: Account(exists=False))


@dataclass(frozen=True)
class HostFacts:
    uid: int
    os_id: str
    os_version: str
    os_name: str
    version: Version
    version_text: str
    client_addr: str
    effective: dict[str, str]  # `sshd -T` keys (lower-case) -> value; multi-line keys joined
    sshd_test_error: str | None  # `sshd -T` failed: the config on the host is broken already
    algorithms: dict[str, frozenset[str]]
    main_config: str
    dropins: dict[str, str]  # file name in DROPIN_DIR -> content
    host_key_types: frozenset[str]
    service: Service
    admin: AdminFacts
    lock_holder: str | None  # owner line of a transaction lock, if one is held
    lock_alive: bool
    listener_cmdline: str = ""  # the running sshd's command line ("" when unknown)
    sysconfig_sshd: str | None = None  # /etc/sysconfig/sshd (RHEL family), if present
    # The requested Banner file: "file MODE UID", "link", "missing" or "not-regular".
    banner_file: str | None = None
    # path -> (octal mode, owner, group) of sshd_config and the host keys; None: not read.
    file_modes: dict[str, tuple[str, str, str]] | None = None
    # What the running sshd listens on (address, port); None: unknown (no listener found).
    listening: frozenset[Endpoint] | None = None
    # Our socket drop-in that moves the port (paths.socket_dropin), by service name.
    socket_port: dict[str, str] = field(default_factory=dict)

    @property
    def capabilities(self) -> HostCapabilities:
        return HostCapabilities(
            version=self.version,
            algorithms=self.algorithms,
            host_key_types=self.host_key_types,
            sshd_keys=frozenset(self.effective),
        )


class FactsError(Exception):
    """The facts output could not be understood (not a shell we can work with)."""


def _sections(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith(f"{SECTION} "):
            if name is not None:
                # The first section of a name wins: file contents printed later cannot fake one.
                out.setdefault(name, "\n".join(lines).strip("\n"))
            name, lines = line[len(SECTION) + 1 :].strip(), []
        elif name is not None:
            lines.append(line)
    if name is not None:
        out.setdefault(name, "\n".join(lines).strip("\n"))
    return out


_VERSION = re.compile(r"OpenSSH_(\d+)\.(\d+)")


def parse_sshd_T(text: str) -> dict[str, str]:
    """`sshd -T` output -> {lower-case key: value}; repeated keys are joined with spaces."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if not key or key.startswith(SSHD_RC):
            continue
        key = key.lower()
        out[key] = f"{out[key]} {value.strip()}" if key in out else value.strip()
    return out


def _os_release(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            values[k.strip()] = v.strip().strip('"').strip("'")
    return values


def _b64(text: str) -> str:
    return base64.b64decode("".join(text.split())).decode("utf-8", "replace")


def _account(exists: bool, lines: list[str]) -> Account:
    """The admin account's uid, shell and origin (lines before the user-written keys)."""
    if not exists:
        return Account(exists=False)
    head = lines[: lines.index("authorized_keys")] if "authorized_keys" in lines else lines
    values = dict(ln.partition(" ")[::2] for ln in head)
    uid, uid_min = values.get("uid", "").strip(), values.get("uid_min", "").strip()
    return Account(
        exists=True,
        uid=int(uid) if uid.isdigit() else None,
        shell=values.get("shell", "").strip(),
        uid_min=int(uid_min) if uid_min.isdigit() else 1000,
        ours="ours" in head,
    )


def _file_modes(text: str) -> dict[str, tuple[str, str, str]]:
    out: dict[str, tuple[str, str, str]] = {}
    for line in text.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4:
            out[parts[3]] = (parts[0], parts[1], parts[2])
    return out


def parse_facts(text: str) -> HostFacts:
    s = _sections(text)
    if "end" not in s or "uid" not in s:
        raise FactsError("the host's shell did not run the facts script to its end")
    m = _VERSION.search(s.get("sshd-version", ""))
    if not m:
        raise FactsError("no OpenSSH server found on the host (sshd -V printed no version)")
    version = (int(m.group(1)), int(m.group(2)))

    sshd_t_text = s.get("sshd-T", "")
    rc_match = re.search(rf"^{re.escape(SSHD_RC)}(\d+)$", sshd_t_text, re.M)
    sshd_ok = rc_match is not None and rc_match.group(1) == "0"
    effective = parse_sshd_T(sshd_t_text) if sshd_ok else {}
    test_error = (
        None if sshd_ok else re.sub(rf"\n?{re.escape(SSHD_RC)}\d+$", "", sshd_t_text).strip()
    )

    dropins: dict[str, str] = {}
    for line in s.get("dropins", "").splitlines():
        name, _, data = line.partition(" ")
        if name:
            dropins[_b64(name)] = _b64(data)

    service_lines = s.get("service", "").splitlines()
    units: dict[str, tuple[str, str]] = {}
    init_scripts: list[str] = []
    manager, pid_file, listener = "none", None, None
    for line in service_lines:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "manager":
            manager = parts[1]
        elif parts[0] == "unit" and len(parts) >= 2:
            fields = dict(p.partition("=")[::2] for p in parts[2:])
            enabled, active = fields.get("enabled", ""), fields.get("active", "")
            # is-active says "inactive" even for a unit that does not exist: not a unit then.
            if enabled or active not in ("", "inactive", "unknown"):
                units[parts[1]] = (enabled, active)
        elif parts[0] == "initscript":
            init_scripts.append(parts[1])
        elif parts[0] == "pidfile" and len(parts) == 3 and parts[2].isdigit():
            pid_file, listener = parts[1], int(parts[2])

    admin_lines = s.get("admin", "").splitlines()
    admin_exists = "exists yes" in admin_lines
    home = next((ln[5:] for ln in admin_lines if ln.startswith("home ")), None)
    groups = next((tuple(ln[7:].split()) for ln in admin_lines if ln.startswith("groups ")), ())
    account = _account(admin_exists, admin_lines)
    keys: tuple[str, ...] = ()
    if "authorized_keys" in admin_lines:
        keys = tuple(
            ln for ln in admin_lines[admin_lines.index("authorized_keys") + 1 :] if ln.strip()
        )

    lock_lines = s.get("lock", "").splitlines()
    holder = next((ln[5:] for ln in lock_lines if ln.startswith("held ")), None)

    osr = _os_release(s.get("os-release", ""))
    return HostFacts(
        uid=int(s["uid"].strip() or -1),
        os_id=osr.get("ID", "unknown"),
        os_version=osr.get("VERSION_ID", ""),
        os_name=osr.get("PRETTY_NAME", osr.get("NAME", "unknown")),
        version=version,
        version_text=m.group(0),
        client_addr=s.get("client-addr", "").strip() or "127.0.0.1",
        effective=effective,
        sshd_test_error=test_error,
        algorithms={
            q: frozenset(s.get(f"ssh-Q-{q}", "").split())
            for q in ("kex", "cipher", "mac", "key-sig")
        },
        main_config=_b64(s.get("main-config", "")),
        dropins=dropins,
        host_key_types=frozenset(
            m2.group(1)
            for line in s.get("host-keys", "").splitlines()
            if (m2 := re.search(r"ssh_host_(\w+)_key$", line.strip()))
        ),
        service=Service(
            manager=manager,
            units=units,
            init_scripts=tuple(init_scripts),
            pid_file=pid_file,
            listener_pid=listener,
        ),
        admin=AdminFacts(
            exists=admin_exists, home=home, groups=groups, authorized_keys=keys, account=account
        ),
        lock_holder=holder,
        lock_alive="alive" in lock_lines,
        listener_cmdline=s.get("listener-cmdline", "").strip(),
        sysconfig_sshd=_b64(s["sysconfig-sshd"]) if s.get("sysconfig-sshd", "").strip() else None,
        banner_file=s.get("banner", "").strip() or None,
        file_modes=_file_modes(s["file-modes"]) if "file-modes" in s else None,
        listening=parse_listening(s.get("listening", "")),
        socket_port={
            unit: _b64(data)
            for unit, _, data in (ln.partition(" ") for ln in s.get("socket-port", "").splitlines())
            if unit in ("ssh", "sshd")
        },
    )
