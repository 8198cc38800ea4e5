"""What the fault tests prove after each fault, seen from the host itself: it serves either its
old configuration (files, `sshd -T` and root's key login exactly as before) or the complete new
one (every baseline value in `sshd -T`, root closed, the admin user in) — never a mix, never
nothing — and a following normal apply converges. Used by tests/hosts/test_faults_*.py,
test_hostile_*.py, test_secrets.py and (the independent baseline) the systemd proofs.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from tests.helpers.cli import Cli
from tests.testhosts.chroot import LOOPBACK, TestHost, try_login

ADMIN = "ops"
LOCK = "/var/lib/hardened-ecs/lock"
DROPIN = "/etc/ssh/sshd_config.d/00-hardened-ecs.conf"

# What the README promises for `--profile baseline`, as `sshd -T` prints it. Written out here
# (not imported from hardening/) so that the engine is judged by an independent list.
BASELINE_EFFECTIVE: Mapping[str, str] = {
    "permitrootlogin": "no",
    "passwordauthentication": "no",
    "kbdinteractiveauthentication": "no",
    "pubkeyauthentication": "yes",
    "permitemptypasswords": "no",
    "authenticationmethods": "publickey",
    "hostbasedauthentication": "no",
    "ignorerhosts": "yes",
    "maxauthtries": "3",
    "logingracetime": "30",
    "maxstartups": "10:30:60",
    "maxsessions": "10",
    "clientaliveinterval": "300",
    "clientalivecountmax": "3",
    "x11forwarding": "no",
    "allowtcpforwarding": "no",
    "allowagentforwarding": "no",
    "allowstreamlocalforwarding": "no",
    "permittunnel": "no",
    "gatewayports": "no",
    "permituserenvironment": "no",
    "loglevel": "VERBOSE",
    "strictmodes": "yes",
    "usedns": "no",
    "compression": "no",
    "printmotd": "no",
    "printlastlog": "no",
}
# Passes our own checks (our client speaks the first), but no OpenSSH knows the second.
BAD_KEX = "KexAlgorithms=curve25519-sha256@libssh.org,no-such-kex@example.com"
# Algorithms a hardened server must no longer offer.
WEAK = {
    "macs": ("hmac-sha1", "hmac-sha1-etm@openssh.com", "umac-64@openssh.com", "hmac-sha2-256"),
    "ciphers": ("aes128-cbc", "aes256-cbc", "3des-cbc"),
    "kexalgorithms": ("diffie-hellman-group14-sha1", "ecdh-sha2-nistp256"),
}


def cli_for(host: TestHost, key: Path, tmp_path: Path, user: str = "root") -> Cli:
    return Cli(host.port, key, tmp_path / f"known_hosts-{host.port}", user)


# --------------------------------------------------------------------------- host state

# A file's digest carries its mode and owner: apply sets those too (CIS 5.1.1-5.1.3), and a
# rollback must put them back. The host keys are in for their modes (their content never changes).
_SNAPSHOT = r"""
for f in /etc/ssh/sshd_config /etc/ssh/sshd_config.d/* /etc/ssh/ssh_host_*_key*; do
  [ -f "$f" ] && echo "file $f $(sha256sum < "$f" | cut -d' ' -f1) $(stat -c %a:%U:%G "$f")"
done
find /etc/ssh /etc/sudoers.d -name '*hardened-ecs*' ! -name 00-hardened-ecs.conf \
  ! -name 90-hardened-ecs-ops | sed 's/^/leftover /'
if [ -e /var/lib/hardened-ecs/lock ]; then echo "leftover /var/lib/hardened-ecs/lock"; fi
if id ops >/dev/null 2>&1; then echo "admin user"; fi
if [ -e /etc/sudoers.d/90-hardened-ecs-ops ]; then echo "admin sudoers"; fi
if [ -e /home/ops/.ssh/authorized_keys ]; then echo "admin key"; fi
exit 0
"""


@dataclass(frozen=True)
class Snapshot:
    """The host's SSH state as the host itself sees it (read inside its namespace)."""

    files: dict[str, str]  # sshd_config, every drop-in, the host keys -> sha256 mode:owner:group
    leftovers: tuple[str, ...]  # candidates, backups, the check file, the transaction lock
    admin: frozenset[str]  # what exists of the admin user: user, sudoers, key
    effective: dict[str, str]  # `sshd -T` for root from 127.0.0.1


def read_snapshot(out: str) -> tuple[dict[str, str], tuple[str, ...], frozenset[str]]:
    """A snapshot script's lines (`file PATH SHA`, `leftover PATH`, `admin WHAT`): the files,
    the leftovers and what exists of the admin user (both host kinds' scripts say them)."""
    files, leftovers, admin = {}, [], set()
    for line in out.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "file":
            path, _, digest = rest.partition(" ")
            files[path] = digest
        elif kind == "leftover":
            leftovers.append(rest)
        elif kind == "admin":
            admin.add(rest)
    return files, tuple(sorted(leftovers)), frozenset(admin)


def snapshot(host: TestHost) -> Snapshot:
    files, leftovers, admin = read_snapshot(host.run(_SNAPSHOT, check=True).stdout)
    return Snapshot(files, leftovers, admin, effective(host))


def effective(host: TestHost) -> dict[str, str]:
    """`sshd -T` for root from 127.0.0.1; {"error": ...} when the files on the host are broken
    (the running listener keeps what it loaded)."""
    proc = host.run(f"sshd -T -C user=root,host={LOOPBACK},addr={LOOPBACK}")
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()}
    out: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.strip().partition(" ")
        key = key.lower()  # OpenSSH 10.4+ prints MixedCase
        out[key] = f"{out[key]}\n{value}" if key in out else value
    return out


def is_complete_new(effective: Mapping[str, str], overrides: Mapping[str, str]) -> list[str]:
    """Why `effective` is not the complete hardened configuration (empty: it is)."""
    wanted = {**BASELINE_EFFECTIVE, **overrides}
    wrong = [f"{k}={effective.get(k)!r} (wanted {v!r})" for k, v in wanted.items()
             if effective.get(k) != v]  # fmt: skip
    for key, weak in WEAK.items():
        offered = effective.get(key, "").split(",")
        wrong += [f"{key} still offers {w}" for w in weak if w in offered]
    return wrong


def assert_same_sshd(
    files: Mapping[str, str],
    leftovers: tuple[str, ...],
    effective: Mapping[str, str],
    files_before: Mapping[str, str],
    effective_before: Mapping[str, str],
) -> None:
    """sshd's files and `sshd -T` as before, nothing of a transaction left (either host kind)."""
    assert leftovers == (), f"left behind on the host: {leftovers}"
    assert files == files_before, "sshd configuration files changed"
    assert effective == effective_before, {
        k: (effective_before.get(k), effective.get(k))
        for k in set(effective) | set(effective_before)
        if effective.get(k) != effective_before.get(k)
    }


def assert_old(
    host: TestHost, before: Snapshot, key: Path, *, admin_too: bool = True, login: str = "root"
) -> None:
    """The host is exactly as it was: files, no leftovers, `sshd -T`, the key login."""
    now = snapshot(host)
    assert_same_sshd(now.files, now.leftovers, now.effective, before.files, before.effective)
    if admin_too:
        assert now.admin == before.admin, f"admin user state {before.admin} -> {now.admin}"
    assert try_login(host.port, login, key), f"{login}'s key login no longer works"


def assert_new(
    host: TestHost, cli: Cli, key: Path, overrides: Mapping[str, str] | None = None
) -> None:
    """The complete hardened configuration is live, nothing is left over, the admin gets in."""
    now = snapshot(host)
    assert now.leftovers == (), f"left behind on the host: {now.leftovers}"
    assert DROPIN in now.files
    problems = is_complete_new(now.effective, overrides or {})
    assert not problems, problems
    assert not try_login(host.port, "root", key), "root can still log in"
    assert try_login(host.port, ADMIN, key), f"{ADMIN} cannot log in"
    flags = [f"--set={k}={v}" for k, v in (overrides or {}).items()]
    check = cli.run("check", *flags)
    assert check.code == 0, check


def old_or_new(host: TestHost, before: Snapshot, overrides: Mapping[str, str] | None = None) -> str:
    """What sshd serves right now: "old" or "new" (fails on anything in between)."""
    now = effective(host)
    if now == before.effective:
        return "old"
    problems = is_complete_new(now, overrides or {})
    assert not problems, f"neither the old nor the complete new configuration: {problems}"
    return "new"


def converge(
    host: TestHost, cli: Cli, key: Path, overrides: Mapping[str, str] | None = None
) -> None:
    """A normal apply after the fault reaches the complete new configuration."""
    flags = [f"--set={k}={v}" for k, v in (overrides or {}).items()]
    out = cli.run("apply", *flags, wait=30)
    assert out.code == 0, out
    assert "compliant=true" in out.stdout, out
    assert_new(host, cli, key, overrides)


def poll(what: str, condition: object, timeout: float) -> None:
    """Wait (bounded) until `condition()` is true."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g}s")
        time.sleep(0.25)


def lock_gone(host: TestHost) -> bool:
    return host.run(f"test -e {LOCK}").returncode != 0


def assert_no_admin_left(left: frozenset[str]) -> None:
    """An apply that says "nothing changed" left no admin user behind (account, sudoers, key):
    its undo must also win the race with the proof login's session that is still exiting."""
    assert not left, f"'nothing changed', but the admin user is left: {sorted(left)}"


@contextlib.contextmanager
def stalled_server() -> Iterator[int]:
    """A port whose "sshd" sends its banner and then never answers (hung or overloaded)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.bind((LOOPBACK, 0))
        srv.listen(16)
        accepted: list[socket.socket] = []
        stop = threading.Event()

        def serve() -> None:
            srv.settimeout(0.2)
            while not stop.is_set():
                try:
                    conn, _ = srv.accept()
                except TimeoutError:
                    continue
                accepted.append(conn)
                conn.sendall(b"SSH-2.0-OpenSSH_9.2 stalled\r\n")

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield srv.getsockname()[1]
        finally:
            stop.set()
            thread.join(timeout=5)
            for conn in accepted:
                conn.close()


class FaultCase(NamedTuple):
    """One fresh chroot host, the client key root logs in with, and the CLI aimed at it."""

    host: TestHost
    key: Path
    cli: Cli


FaultCaseFactory = Callable[..., FaultCase]
