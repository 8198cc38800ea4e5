"""From this machine to a chroot host on 127.0.0.1:PORT: the system ssh client (key logins),
paramiko for what a client sees before logging in (auth methods, passwords, the host key) and
ssh-audit's report. Test use only: host keys are not checked (every test host has fresh ones).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import paramiko

from tests.testhosts import client
from tests.testhosts.loopback import LOOPBACK


class SSHClientError(RuntimeError):
    """The ssh client failed for a reason other than rejected authentication."""


def ssh_command(
    port: int,
    user: str,
    key_path: str | Path,
    command: str,
    *,
    host: str = LOOPBACK,
    options: Sequence[str] = (),
    timeout: float | None = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `command` over SSH with the system client, key auth only. Test use only: host keys
    are not checked (every test host has fresh keys)."""
    return client.ssh(
        host,
        user,
        key_path,
        command,
        port=port,
        options=options,
        timeout=timeout,
        connect_timeout=15,
    )


def try_login(port: int, user: str, key_path: str | Path, *, host: str = LOOPBACK) -> bool:
    """True if `user` logs in with the key and runs a command. False only when the server
    rejects the authentication; anything else (refused, no common algorithm) raises
    SSHClientError, so a "login must fail" test cannot pass because the server is down."""
    proc = ssh_command(port, user, key_path, "true", host=host)
    if proc.returncode == 0:
        return True
    if "Permission denied" in proc.stderr or "Too many authentication failures" in proc.stderr:
        return False
    hint = _PENALTY_HINT if "kex_exchange_identification" in proc.stderr else ""
    raise SSHClientError(
        f"ssh {user}@{host}:{port} failed ({proc.returncode}): {proc.stderr.strip()}{hint}"
    )


_PENALTY_HINT: Final = (
    " (a server that closes before its banner: OpenSSH 9.8+ PerSourcePenalties may be"
    " refusing 127.0.0.1; see TestHost(source_penalties=...) and its syslog())"
)


@contextlib.contextmanager
def _transport(port: int, host: str = LOOPBACK) -> Iterator[paramiko.Transport]:
    sock = socket.create_connection((host, port), timeout=15)
    t = paramiko.Transport(sock)
    try:
        t.banner_timeout = 15
        t.auth_timeout = 15
        try:
            t.start_client(timeout=15)
        except paramiko.SSHException as e:
            hint = _PENALTY_HINT if "banner" in str(e) else ""
            raise SSHClientError(f"SSH handshake with {host}:{port} failed: {e}{hint}") from e
        yield t
    finally:
        t.close()
        sock.close()


def auth_methods(port: int, user: str, *, host: str = LOOPBACK) -> list[str]:
    """The authentication methods the server offers `user` (e.g. ["publickey", "password"])."""
    with _transport(port, host) as t:
        try:
            t.auth_none(user)
        except paramiko.BadAuthenticationType as e:
            return list(e.allowed_types)
    return ["none"]  # the server let us in without authenticating


def try_password(
    port: int,
    user: str,
    password: str,
    *,
    keyboard_interactive: bool = True,
    host: str = LOOPBACK,
) -> bool:
    """True if the password logs `user` in by `password` auth or (with PAM, the same password)
    by `keyboard-interactive`. False only when authentication is rejected; connection or
    negotiation failures raise."""

    def answer(_title: str, _instr: str, prompts: list[tuple[str, bool]]) -> list[str]:
        return [password for _ in prompts]

    attempts: list[str] = ["password", *(["keyboard-interactive"] if keyboard_interactive else [])]
    for method in attempts:
        with _transport(port, host) as t:  # own connection: MaxAuthTries counts per connection
            try:
                if method == "password":
                    t.auth_password(user, password, fallback=False)
                else:
                    t.auth_interactive(user, answer)
            except paramiko.AuthenticationException:
                continue
            if t.is_authenticated():
                return True
    return False


def server_host_key(port: int, key_type: str = "ssh-ed25519", *, host: str = LOOPBACK) -> str:
    """The host key the server presents for `key_type`, as "type base64"."""
    sock = socket.create_connection((host, port), timeout=15)
    t = paramiko.Transport(sock)
    try:
        t.get_security_options().key_types = [key_type]
        t.start_client(timeout=15)
        key = t.get_remote_server_key()
        return f"{key.get_name()} {key.get_base64()}"
    finally:
        t.close()
        sock.close()


def _ssh_audit_exe() -> str:
    beside = Path(sys.executable).parent / "ssh-audit"
    exe = str(beside) if beside.exists() else shutil.which("ssh-audit")
    if exe is None:
        raise SSHClientError("ssh-audit not found (pip install -r requirements-dev.txt)")
    return exe


def ssh_audit(port: int, *, host: str = LOOPBACK) -> dict[str, Any]:
    """ssh-audit's JSON report of what the server offers before authentication. Exit codes 0
    (good), 2 (warnings) and 3 (failures) are reports; 1 (cannot connect) raises."""
    # --skip-rate-test: the rate test opens dozens of connections and trips MaxStartups.
    proc = subprocess.run(
        [_ssh_audit_exe(), "--skip-rate-test", "-jj", "-p", str(port), host],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode not in (0, 2, 3):
        raise SSHClientError(f"ssh-audit failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def audit_failures(report: dict[str, Any]) -> list[str]:
    """Algorithms whose ssh-audit notes contain `fail`, as "section: name" (e.g. "kex: ...")."""
    failed = []
    for section in ("kex", "key", "enc", "mac"):
        for entry in report.get(section, []):
            notes = entry.get("notes", {})
            if notes.get("fail"):
                failed.append(f"{section}: {entry['algorithm']}")
    return failed


# --------------------------------------------------------------------------- CLI
