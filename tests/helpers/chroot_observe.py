"""Driving `python -m hardening` against test hosts the way an operator does, and observing the
host from outside: shared by the host proofs and the fault suite.

Everything here is generic: the CLI runs as a subprocess of the project's virtualenv python, the
observations come from the host itself (its files, its syslog, its listener), never from the
engine's own report.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from hardening.ssh.keys import load_private_key
from hardening.ssh.transport import Target
from hardening.ssh.trust import HostKeyPolicy
from tests.helpers.cli import Outcome, run_cli
from tests.testhosts.chroot import (
    LOOPBACK,
    TestHost,
    auth_methods,
    ssh_command,
    try_login,
    try_password,
)

DROPIN: Final = "/etc/ssh/sshd_config.d/00-hardened-ecs.conf"
MAIN_CONFIG: Final = "/etc/ssh/sshd_config"
BLOCK_BEGIN: Final = "# BEGIN hardened-ecs managed block"
BLOCK_END: Final = "# END hardened-ecs managed block"
SUDOERS_FILE: Final = "/etc/sudoers.d/90-hardened-ecs-{user}"

# What an apply may write, and what a read-only action must leave alone.
CONFIG_PATHS: Final = ("/etc/ssh", "/etc/sudoers.d")
ACCOUNT_PATHS: Final = ("/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/home")

# The keys `--json` promises (issue 2), and per setting.
REPORT_KEYS: Final = frozenset({"host", "changed", "compliant", "rolled_back", "error", "settings"})
SETTING_KEYS: Final = frozenset({"wanted", "before", "after"})

# The directives `--profile minimal` owns; OpenSSH before 8.7 adds its separate switch.
MINIMAL_DIRECTIVES: Final = frozenset(
    {"PermitRootLogin", "PasswordAuthentication", "KbdInteractiveAuthentication",
     "PubkeyAuthentication"}
)  # fmt: skip
CRYPTO_DIRECTIVES: Final = ("KexAlgorithms", "Ciphers", "MACs", "HostKeyAlgorithms")


# --------------------------------------------------------------------------- the CLI on one host


def host_cli(
    host: TestHost,
    action: str,
    *args: str,
    key: str | Path,
    known_hosts: str | Path,
    user: str = "root",
    accept_new_host_key: bool = True,
    host_key_fingerprint: str | None = None,
    wait: float = 20.0,
    timeout: float = 240.0,
    env: Mapping[str, str] | None = None,
) -> Outcome:
    """`venv/bin/python -m hardening ACTION --host 127.0.0.1 --port PORT ...` as a subprocess
    (through the one runner, tests/helpers/cli.py).

    `args` come after the standard flags, so a test may override any of them (argparse keeps
    the last). `--wait` defaults to 20 s instead of 300 so that a host that refuses us fails the
    test quickly; a pinned fingerprint replaces `--accept-new-host-key`.
    """
    argv = [
        action,
        *("--host", LOOPBACK, "--port", str(host.port), "--user", user),
        *("--identity", str(key), "--known-hosts", str(known_hosts), "--wait", f"{wait:g}"),
    ]
    if host_key_fingerprint is not None:
        argv += ["--host-key-fingerprint", host_key_fingerprint]
    elif accept_new_host_key:
        argv.append("--accept-new-host-key")
    argv += args
    return run_cli(argv, env=env, timeout=timeout)


def host_key_fingerprint(host: TestHost, key_type: str = "ssh-ed25519") -> str:
    """`SHA256:...` of a host key, as `ssh-keygen -lf` prints it (computed here, not by the
    engine)."""
    blob = base64.b64decode(host.host_public_keys()[key_type].split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def loopback_target(port: int, user: str, key: Path, tmp_path: Path) -> Target:
    """The engine's target for a chroot host on 127.0.0.1: its key recorded on first contact
    in a known_hosts file of the test's own."""
    return Target(
        LOOPBACK,
        port,
        user,
        load_private_key(path=str(key)),
        HostKeyPolicy(known_hosts=tmp_path / "known_hosts", accept_new=True),
    )


def known_hosts_name(host: TestHost) -> str:
    """How OpenSSH names a host on a non-standard port in known_hosts."""
    return f"[{LOOPBACK}]:{host.port}"


# --------------------------------------------------------------------------- the host's state


def snapshot(host: TestHost, paths: Iterable[str] = CONFIG_PATHS + ACCOUNT_PATHS) -> dict[str, str]:
    """path -> "type mode owner inode mtime sha256" for everything under `paths` (missing paths
    are simply absent). Any write, including an atomic rename of identical content, shows."""
    script = (
        "find " + " ".join(shlex.quote(p) for p in paths) + " -xdev 2>/dev/null | LC_ALL=C sort |"
        " while IFS= read -r f; do"
        '  meta=$(stat -c "%F %a %U:%G %i %y" "$f");'
        '  if [ -f "$f" ]; then sum=$(sha256sum < "$f" | cut -d" " -f1); else sum=-; fi;'
        '  printf "%s\\t%s %s\\n" "$f" "$meta" "$sum";'
        " done"
    )
    out = host.run(script, check=True).stdout
    return dict(line.split("\t", 1) for line in out.splitlines())


def snapshot_diff(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """Readable differences between two snapshots (empty when equal)."""
    out = []
    for path in sorted(set(before) | set(after)):
        if before.get(path) != after.get(path):
            out.append(f"{path}: {before.get(path, '(absent)')} -> {after.get(path, '(absent)')}")
    return out


def file_meta(host: TestHost, path: str) -> str:
    """Owner, group and octal mode of a file inside the host, e.g. "root:root 600"."""
    return host.run(f"stat -c '%U:%G %a' {shlex.quote(path)}", check=True).stdout.strip()


def read_file(host: TestHost, path: str) -> str:
    return host.path(path).read_text()


def exists(host: TestHost, path: str) -> bool:
    return host.run(f"test -e {shlex.quote(path)}").returncode == 0


def config_lines(text: str) -> list[tuple[str, str]]:
    """(Keyword, value) of each directive line, comments and blanks dropped."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, value = line.partition(" ")
            out.append((keyword, value.strip()))
    return out


def managed_block(main_config: str) -> str:
    """The text between our BEGIN and END markers (raises if there is no block)."""
    lines = main_config.splitlines()
    begin, end = lines.index(BLOCK_BEGIN), lines.index(BLOCK_END)
    return "\n".join(lines[begin + 1 : end]) + "\n"


@dataclass(frozen=True)
class Listener:
    """What tells a reload apart: sshd re-execs on SIGHUP, so its listen socket is new (its PID
    stays); a restart also changes the PID. `reloads` counts sshd's own log line for a HUP."""

    pid: int
    sockets: frozenset[int]
    reloads: int
    starts: int


def listener(host: TestHost) -> Listener:
    log = host.syslog()
    return Listener(
        pid=host.listener_pid(),
        sockets=frozenset(host.listen_sockets()),
        reloads=log.count("Received SIGHUP; restarting."),
        starts=log.count(f"Server listening on {LOOPBACK} port {host.port}."),
    )


# --------------------------------------------------------------------------- access proofs


@dataclass(frozen=True)
class Access:
    """How the host lets people in, seen from a real client."""

    root_key: bool  # root logs in with the key
    root_password: bool  # root logs in with its password (password or keyboard-interactive)
    root_methods: tuple[str, ...]  # what the server offers root
    admin_key: bool  # the admin user logs in with the key
    admin_sudo_uid: str | None  # `sudo -n id -u` over SSH as the admin ("0"), None if it failed
    admin_methods: tuple[str, ...]


def access(host: TestHost, key: str | Path, admin: str = "ops") -> Access:
    admin_in = try_login(host.port, admin, key)
    sudo_uid = None
    if admin_in:
        proc = ssh_command(host.port, admin, key, "sudo -n id -u")
        sudo_uid = proc.stdout.strip() if proc.returncode == 0 else None
    return Access(
        root_key=try_login(host.port, "root", key),
        root_password=try_password(host.port, "root", host.root_password),
        root_methods=tuple(auth_methods(host.port, "root")),
        admin_key=admin_in,
        admin_sudo_uid=sudo_uid,
        admin_methods=tuple(auth_methods(host.port, admin)),
    )


# A hardened host: only keys, root out, the admin in with passwordless sudo.
HARDENED_ACCESS: Final = Access(
    root_key=False,
    root_password=False,
    root_methods=("publickey",),
    admin_key=True,
    admin_sudo_uid="0",
    admin_methods=("publickey",),
)


def wanted_values(report: Mapping[str, Any]) -> dict[str, str]:
    """Directive -> wanted value from a `--json` report."""
    settings: Mapping[str, Mapping[str, str | None]] = report["settings"]
    return {name: str(s["wanted"]) for name, s in settings.items()}


def effective_mismatches(
    host: TestHost, wanted: Mapping[str, str], user: str = "root"
) -> list[str]:
    """Directives whose `sshd -T` value (from the host, for a connection by `user`) is not the
    wanted one; values compared case-insensitively, lists exactly (order matters to sshd)."""
    effective = host.sshd_effective(user)
    wrong = []
    for name, value in wanted.items():
        got = effective.get(name.lower())
        if got is None or got.lower() != value.lower():
            wrong.append(f"{name}: sshd -T shows {got!r}, wanted {value!r}")
    return wrong


def table_rows(stdout: str) -> list[list[str]]:
    """The rows of a CLI table (the lines after its header), split on runs of 2+ spaces; the
    file mode changes listed under it (indented paths, `mode_lines`) are not rows."""
    lines = stdout.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.startswith("directive "))
    rows = [ln for ln in lines[header + 1 :] if ln.strip() and not ln.startswith("  /")]
    return [re.split(r"\s{2,}", ln.strip()) for ln in rows]


def mode_lines(stdout: str) -> list[str]:
    """The file mode changes `check` and `plan` list (indented, one path each)."""
    return [ln.strip() for ln in stdout.splitlines() if ln.startswith("  /")]
