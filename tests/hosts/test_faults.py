"""Fault suite (issue 5): break one thing on purpose and show that nobody is locked out.

Every fault runs `python -m hardening` as a subprocess, like a user, against a real OpenSSH test
host (tests/testhost.py). After each one:

* the host serves either its old configuration (files, `sshd -T` and root's key login exactly as
  before) or the complete new one (every baseline value in `sshd -T`, root closed, the admin user
  in) — never a mix, and never nothing;
* the exit code and the message say what happened;
* a following normal apply converges (exit 0, then `check` exits 0).

The faults are numbered as in the issue. Helpers here (`Cli`, `Running`, `snapshot`, ...) are
also used by tests/hosts/test_secrets.py.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ClientKeys, HostFactory
from tests.testhost import LOOPBACK, SSHClientError, TestHost, allocate_port, try_login

ROOT = Path(__file__).resolve().parents[2]
_VENV_PYTHON = ROOT / "venv" / "bin" / "python"
PYTHON = str(_VENV_PYTHON if _VENV_PYTHON.exists() else Path(sys.executable))

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


# --------------------------------------------------------------------------- running the CLI


@dataclass(frozen=True)
class Outcome:
    """What one CLI run left: exit code, stdout, stderr."""

    code: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def run_cli(
    argv: list[str], *, env: Mapping[str, str] | None = None, timeout: float = 300
) -> Outcome:
    """`python -m hardening ARGV...` from the project root, as a user runs it."""
    proc = subprocess.run(
        [PYTHON, "-m", "hardening", *argv],
        cwd=ROOT,
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


class Running:
    """A CLI run in the background whose progress lines (stderr) can be waited for."""

    def __init__(self, argv: list[str], *, env: Mapping[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "hardening", *argv],
            cwd=ROOT,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stdout: list[str] = []
        self._threads = [
            threading.Thread(target=self._pump_stderr, daemon=True),
            threading.Thread(target=self._pump_stdout, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._lines.put(line)
        self._lines.put(None)

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        self._stdout.append(self.proc.stdout.read())

    def wait_for(self, marker: str, timeout: float = 90.0) -> str:
        """Block until a progress line contains `marker`; return that line."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no progress line with {marker!r} within {timeout:g}s: {self.lines}"
                ) from None
            if line is None:
                self._lines.put(None)  # keep the end marker for finish()
                raise AssertionError(f"the CLI ended before printing {marker!r}:\n{self.finish()}")
            self.lines.append(line)
            if marker in line:
                return line

    def kill(self) -> None:
        """SIGKILL the CLI (its own PID: we started it) and reap it."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def finish(self, timeout: float = 300) -> Outcome:
        code = self.proc.wait(timeout=timeout)
        for t in self._threads:
            t.join(timeout=30)
        while True:
            line = self._lines.get(timeout=30)
            if line is None:
                break
            self.lines.append(line)
        return Outcome(code, "".join(self._stdout), "".join(self.lines))


@dataclass(frozen=True)
class Cli:
    """The command line a user types for one test host (known_hosts in a temp dir)."""

    port: int
    identity: Path
    known_hosts: Path
    user: str = "root"
    host: str = LOOPBACK

    def argv(
        self,
        action: str,
        *extra: str,
        wait: float = 5,
        confirm_timeout: int = 10,
        accept_new: bool = True,
    ) -> list[str]:
        argv = [
            action,
            "--host", self.host,
            "--port", str(self.port),
            "--user", self.user,
            "--identity", str(self.identity),
            "--known-hosts", str(self.known_hosts),
            "--wait", f"{wait:g}",
            "--confirm-timeout", str(confirm_timeout),
        ]  # fmt: skip
        if accept_new:
            argv.append("--accept-new-host-key")
        return [*argv, *extra]

    def run(
        self,
        action: str,
        *extra: str,
        wait: float = 5,
        confirm_timeout: int = 10,
        accept_new: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> Outcome:
        argv = self.argv(
            action, *extra, wait=wait, confirm_timeout=confirm_timeout, accept_new=accept_new
        )
        return run_cli(argv, env=env)

    def start(
        self, action: str, *extra: str, wait: float = 5, confirm_timeout: int = 10
    ) -> Running:
        return Running(self.argv(action, *extra, wait=wait, confirm_timeout=confirm_timeout))


def cli_for(host: TestHost, key: Path, tmp_path: Path, user: str = "root") -> Cli:
    return Cli(host.port, key, tmp_path / f"known_hosts-{host.port}", user)


# --------------------------------------------------------------------------- host state

_SNAPSHOT = r"""
for f in /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*; do
  [ -f "$f" ] && echo "file $f $(sha256sum < "$f" | cut -d' ' -f1)"
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

    files: dict[str, str]  # sshd_config and every drop-in -> sha256
    leftovers: tuple[str, ...]  # candidates, backups, the check file, the transaction lock
    admin: frozenset[str]  # what exists of the admin user: user, sudoers, key
    effective: dict[str, str]  # `sshd -T` for root from 127.0.0.1


def snapshot(host: TestHost) -> Snapshot:
    out = host.run(_SNAPSHOT, check=True).stdout
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
    return Snapshot(files, tuple(sorted(leftovers)), frozenset(admin), effective(host))


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


def assert_old(
    host: TestHost, before: Snapshot, key: Path, *, admin_too: bool = True, login: str = "root"
) -> None:
    """The host is exactly as it was: files, no leftovers, `sshd -T`, the key login."""
    now = snapshot(host)
    assert now.leftovers == (), f"left behind on the host: {now.leftovers}"
    assert now.files == before.files, "sshd configuration files changed"
    assert now.effective == before.effective, {
        k: (before.effective.get(k), now.effective.get(k))
        for k in set(now.effective) | set(before.effective)
        if now.effective.get(k) != before.effective.get(k)
    }
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


# --------------------------------------------------------------------------- 1, 2: refused


def test_01_directive_the_hosts_openssh_does_not_know_is_refused_before_any_change(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bullseye")  # OpenSSH 8.4
    key = client_keys.ed25519
    cli = cli_for(host, key, tmp_path)
    before = snapshot(host)
    for flag, phrase in (
        ("RequiredRSASize=3072", "added in OpenSSH 9.1"),
        ("UseLogin=no", "removed in OpenSSH 7.4"),
    ):
        out = cli.run("apply", "--set", flag)
        assert out.code == 2, out
        name = flag.split("=")[0]
        assert f"{name}: not supported by the host's OpenSSH 8.4" in out.stdout, out
        assert phrase in out.stdout and "remove this override" in out.stdout, out
        assert "nothing changed" in out.stdout, out
        assert_old(host, before, key)
    converge(host, cli, key)


def test_01_algorithm_sshd_t_rejects_is_caught_before_anything_live_changes(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    key = client_keys.ed25519
    cli = cli_for(host, key, tmp_path)
    before = snapshot(host)
    # One algorithm our client speaks (so it passes our own checks), one no OpenSSH knows.
    out = cli.run("apply", "--set", BAD_KEX)
    assert out.code == 4, out
    assert "sshd -t rejected the new configuration, nothing changed" in out.stdout, out
    assert "no-such-kex@example.com" in out.stdout, out
    assert "reloaded" not in out.stderr, out
    assert_old(host, before, key, admin_too=False)
    admin_left = snapshot(host).admin - before.admin
    converge(host, cli, key)
    assert_no_admin_left(admin_left)


def test_02_broken_drop_in_on_the_host_fails_with_its_name_and_nothing_changes(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    key = client_keys.ed25519
    cli = cli_for(host, key, tmp_path)
    broken = "/etc/ssh/sshd_config.d/60-broken.conf"
    # The running sshd keeps serving its loaded configuration; only `sshd -t`/-T see the file.
    host.run(f"echo 'ThisIsNotAnOption yes' > {broken}", check=True)
    before = snapshot(host)
    for action in ("apply", "plan", "check"):
        out = cli.run(action)
        assert out.code == 4, out
        assert "already invalid, nothing changed" in out.stdout, out
        assert broken in out.stdout and "ThisIsNotAnOption" in out.stdout, out
        assert_old(host, before, key)
    host.run(f"rm {broken}", check=True)
    converge(host, cli, key)


# --------------------------------------------------------------------------- 3, 4, 5: rollback


def test_03_tool_killed_right_after_the_reload_the_host_restores_itself(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("trixie")  # the newest OpenSSH: sshd-session, reload by re-exec
    key = client_keys.ed25519
    cli = cli_for(host, key, tmp_path)
    before = snapshot(host)
    run = cli.start("apply", confirm_timeout=10)
    run.wait_for("reloaded sshd")
    run.kill()
    # Killed before it could confirm: the transaction (and its watcher) is still there and the
    # complete new configuration is live.
    assert not lock_gone(host), "the apply confirmed before it was killed (should not happen)"
    assert old_or_new(host, before) == "new"
    assert not try_login(host.port, "root", key)
    # Within the confirm timeout the host puts everything back by itself.
    poll("the host's own rollback", lambda: lock_gone(host), timeout=10 + 30)
    assert "rolled back" not in "".join(run.lines)  # nobody told it to
    assert_old(host, before, key, admin_too=False)  # the admin user it made is harmless: kept
    converge(host, cli, key)


def test_04_configuration_that_lets_nobody_in_is_rolled_back(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    key = client_keys.ed25519
    cli = cli_for(host, key, tmp_path)
    before = snapshot(host)
    # Passes `sshd -t`, but no key file exists there: the fresh verification login must fail.
    # The verification gives up before the confirm timeout, so the tool itself rolls back over
    # its original connection (the host's own watcher: test_03, test_05_..._watcher).
    out = cli.run("apply", "--set", "AuthorizedKeysFile=/etc/ssh/nobody", confirm_timeout=10)
    assert out.code == 4, out
    assert "failed the fresh-connection check" in out.stdout, out
    assert "the server refused the key for ops" in out.stdout, out
    assert "rolled back to the previous configuration" in out.stdout, out
    assert_old(host, before, key)  # the admin user it made is gone again too
    converge(host, cli, key)


_SSHD_WRAPPER = r"""#!/bin/bash
# Fault injection: started as a daemon while hardened-ecs's drop-in exists, sshd "crashes".
# Everything else (-t/-T, the per-connection re-exec -R, ...) runs the real sshd.
for a in "$@"; do
  case "$a" in -t|-T|-V|-R|-G|-i|-d|-D) exec -a "$0" /usr/sbin/sshd "$@" ;; esac
done
if [ -e /etc/ssh/sshd_config.d/00-hardened-ecs.conf ]; then
  logger -t sshd-wrap "fault injection: not starting" 2>/dev/null
  exit 1
fi
exec -a "$0" /usr/sbin/sshd "$@"
"""


def _listener_through_wrapper(host: TestHost) -> None:
    """Run the listener as /usr/sbin/sshd (so the init script still finds and signals it) but
    with argv[0] = the wrapper, which is what sshd re-executes on SIGHUP."""
    host.run(
        "cat > /usr/local/sbin/sshd-wrap && chmod 755 /usr/local/sbin/sshd-wrap",
        input=_SSHD_WRAPPER,
        check=True,
    )
    sockets, log_from = host.listen_sockets(), len(host.syslog())
    host.run("/etc/init.d/ssh stop && /usr/local/sbin/sshd-wrap", check=True)
    host.wait_listening(sockets, log_from)
    assert "sshd-wrap" in host.run(f"cat /proc/{host.listener_pid()}/cmdline").stdout


def test_05_sshd_that_does_not_come_back_is_restored_and_restarted_by_the_tool(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    key = client_keys.ed25519
    cli = cli_for(host, key, tmp_path)
    _listener_through_wrapper(host)
    before = snapshot(host)
    pid = host.listener_pid()
    out = cli.run("apply", confirm_timeout=10)
    assert out.code == 4, out
    assert "lost the original connection" not in out.stderr, out  # it never was
    assert "Connection refused" in out.stdout, out
    assert "rolled back to the previous configuration" in out.stdout, out
    assert "fault injection: not starting" in host.syslog()
    assert host.listener_pid() != pid  # a new listener: restarted, not just reloaded
    assert_old(host, before, key)
    converge(host, cli, key)  # the restarted listener is the plain sshd again


def test_05_sshd_that_does_not_come_back_and_a_tool_that_died_the_watcher_restarts_it(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    key = client_keys.ed25519
    cli = cli_for(host, key, tmp_path)
    _listener_through_wrapper(host)
    before = snapshot(host)
    run = cli.start("apply", confirm_timeout=10)
    run.wait_for("reloaded sshd")
    run.kill()  # nobody is left to roll back but the host itself
    with pytest.raises(SSHClientError):
        try_login(host.port, "root", key)  # nothing listens
    poll("the host's own rollback", lambda: lock_gone(host), timeout=10 + 30)
    poll("sshd listening again", lambda: bool(host.listen_sockets()), timeout=30)
    assert "fault injection: not starting" in host.syslog()
    assert_old(host, before, key, admin_too=False)  # the admin user it made is kept
    converge(host, cli, key)


# --------------------------------------------------------------------------- 6, 7, 8: no entry


def test_06_login_whose_sudo_wants_a_password_exits_clearly_and_changes_nothing(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    key = client_keys.ed25519
    host.add_user("deploy", authorized_keys=[key], sudo_nopasswd=False, password="Deploy-pw-1")
    host.run("usermod -aG sudo deploy", check=True)  # Debian: %sudo ALL=(ALL:ALL) ALL
    before = snapshot(host)
    cli = cli_for(host, key, tmp_path, user="deploy")
    for action in ("apply", "check"):
        out = cli.run(action)
        assert out.code == 3, out
        assert "deploy on 127.0.0.1 cannot run commands as root without a password" in out.stdout
        assert "NOPASSWD" in out.stdout, out
        assert_old(host, before, key)
    converge(host, cli_for(host, key, tmp_path), key)


def test_sudo_warning_does_not_turn_failures_into_password_errors(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    key = client_keys.ed25519
    converge(host, cli_for(host, key, tmp_path), key)  # root is closed: from now on via sudo
    # Like many cloud images: the host name missing from /etc/hosts, so sudo warns every time.
    host.run("echo '127.0.0.1 localhost' > /etc/hosts", check=True)
    log_from = len(host.syslog())
    before = snapshot(host)
    ops = cli_for(host, key, tmp_path, user=ADMIN)
    out = ops.run("apply", "--set", BAD_KEX)
    assert "unable to resolve host" in host.syslog()[log_from:]  # sudo did warn
    assert_old(host, before, key, login=ADMIN)
    assert out.code == 4, out
    assert "sshd -t rejected the new configuration, nothing changed" in out.stdout, out


def _no_session_since(host: TestHost, log_from: int) -> None:
    log = host.syslog()[log_from:]
    for phrase in ("Accepted publickey", "session opened", "Starting session"):
        assert phrase not in log, log


def _verbose_sshd(host: TestHost) -> None:
    """LogLevel VERBOSE on the host, so every public key offered shows in its syslog."""
    host.run("echo 'LogLevel VERBOSE' > /etc/ssh/sshd_config.d/05-verbose.conf", check=True)
    host.reload()


def test_07_wrong_key_exits_3_and_nothing_is_sent(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    _verbose_sshd(host)
    before, log_from = snapshot(host), len(host.syslog())
    cli = cli_for(host, client_keys.stranger, tmp_path)
    out = cli.run("apply", wait=2)
    assert out.code == 3, out
    assert f"cannot reach root@127.0.0.1:{host.port} within 2s (--wait)" in out.stdout, out
    assert "the server refused the key for root and for ops" in out.stdout, out
    assert "Failed publickey for root" in host.syslog()[log_from:]
    _no_session_since(host, log_from)
    assert_old(host, before, client_keys.ed25519)
    converge(host, cli_for(host, client_keys.ed25519, tmp_path), client_keys.ed25519)


def test_07_unknown_host_key_exits_3_before_authenticating(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    _verbose_sshd(host)
    key = client_keys.ed25519
    before, log_from = snapshot(host), len(host.syslog())
    cli = cli_for(host, key, tmp_path)
    fp = host.run("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[1]
    out = cli.run("apply", accept_new=False)
    assert out.code == 3, out
    assert f"host key for [127.0.0.1]:{host.port} is unknown (ssh-ed25519 {fp})" in out.stdout
    assert f"--host-key-fingerprint {fp} or --accept-new-host-key" in out.stdout, out
    assert not cli.known_hosts.exists(), "an unknown host key must not be recorded"
    log = host.syslog()[log_from:]
    assert "publickey" not in log, log  # the host key is checked before any key is offered
    _no_session_since(host, log_from)
    assert_old(host, before, key)
    # The fingerprint it printed is the one to pin.
    pinned = cli.run("apply", "--host-key-fingerprint", fp, accept_new=False)
    assert pinned.code == 0, pinned
    assert_new(host, Cli(host.port, key, tmp_path / "kh-pinned"), key)


def test_07_changed_host_key_a_different_server_on_the_same_port_exits_3(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    key = client_keys.ed25519
    first = host_factory("bookworm")
    port = first.port
    cli = cli_for(first, key, tmp_path)
    recorded = cli.run("plan")  # read-only; records the first server's key
    assert recorded.code == 0, recorded
    known = cli.known_hosts.read_text()
    first_fp = first.run("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[1]
    first.stop()
    # "Rebuilt": another server (fresh host keys) answers on the same address and port.
    second = host_factory("bookworm", port=port)
    _verbose_sshd(second)
    before, log_from = snapshot(second), len(second.syslog())
    for flags, phrases in (
        ((), (f"HOST KEY CHANGED for [127.0.0.1]:{port}", f"ssh-keygen -R '[127.0.0.1]:{port}'")),
        (("--host-key-fingerprint", first_fp), (f"but {first_fp} was pinned", "rebuilt")),
    ):
        out = cli.run("apply", *flags, accept_new=not flags)  # --accept-new never overrides
        assert out.code == 3, out
        for phrase in phrases:
            assert phrase in out.stdout, out
        log = second.syslog()[log_from:]
        assert "publickey" not in log, log
        _no_session_since(second, log_from)
    assert cli.known_hosts.read_text() == known, "known_hosts must not change"
    assert_old(second, before, key)
    cli.known_hosts.unlink()  # the operator verified the new server and forgot the old key
    converge(second, cli, key)


def test_08_nothing_listening_fails_after_wait_naming_host_and_port(
    client_keys: ClientKeys, tmp_path: Path
) -> None:
    free = allocate_port()
    cli = Cli(free, client_keys.ed25519, tmp_path / "kh")
    for action in ("apply", "check"):
        out = cli.run(action, wait=2)
        assert out.code == 3, out
        assert f"cannot reach root@127.0.0.1:{free} within 2s (--wait)" in out.stdout, out
        assert "TCP connect failed: Connection refused" in out.stdout, out
        assert f"127.0.0.1:{free}: TCP connect failed" in out.stderr, out  # retried meanwhile
    assert not cli.known_hosts.exists()


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


def test_08_server_that_stalls_after_its_banner_fails_after_wait_naming_host_and_port(
    client_keys: ClientKeys, tmp_path: Path
) -> None:
    with stalled_server() as port:
        out = Cli(port, client_keys.ed25519, tmp_path / "kh").run("apply", wait=1)
    assert out.code == 3, out
    assert f"cannot reach root@127.0.0.1:{port} within 1s (--wait)" in out.stdout, out
    assert "internal error" not in out.stdout, out


# --------------------------------------------------------------------------- 9: no space


def test_09_no_space_left_for_the_candidate_exits_4_and_old_files_are_intact(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    key = client_keys.ed25519
    cli = cli_for(host, key, tmp_path)
    # Inside the host only: /etc/ssh becomes a full 1 MiB tmpfs with the same contents.
    host.run(
        "set -e; cp -a /etc/ssh /tmp/etc-ssh; mount -t tmpfs -o size=1m,mode=755 tmpfs /etc/ssh;"
        " cp -a /tmp/etc-ssh/. /etc/ssh/;"
        " dd if=/dev/zero of=/etc/ssh/.filler bs=4k 2>/dev/null || true;"
        " test \"$(df --output=avail /etc/ssh | tail -n 1 | tr -d ' ')\" = 0",
        check=True,
    )
    before = snapshot(host)
    out = cli.run("apply")
    assert out.code == 4, out
    assert "could not stage the new configuration, nothing changed" in out.stdout, out
    assert "No space left on device" in out.stdout, out
    assert "reloaded" not in out.stderr
    assert_old(host, before, key, admin_too=False)
    admin_left = snapshot(host).admin - before.admin
    host.run("rm /etc/ssh/.filler", check=True)
    converge(host, cli, key)
    assert_no_admin_left(admin_left)


# --------------------------------------------------------------------------- 10: at once


def test_10_second_apply_refuses_or_waits_while_the_first_holds_the_host(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    key = client_keys.ed25519
    cli = cli_for(host, key, tmp_path)
    first = cli.start("apply", "--set", "MaxAuthTries=4", confirm_timeout=60)
    first.wait_for("reloaded sshd")
    first.pause()  # holds the transaction: committed, not yet confirmed
    try:
        impatient = cli.run("apply", "--set", "MaxAuthTries=5", wait=3)
        assert impatient.code == 4, impatient
        assert "another apply is in progress on the host" in impatient.stdout, impatient
        assert LOCK in impatient.stdout and "gave up after --wait 3s" in impatient.stdout
        patient = cli.start("apply", "--set", "MaxAuthTries=5", wait=60, confirm_timeout=60)
        patient.wait_for("another apply is in progress")
        # Meanwhile the first one's complete configuration is what sshd serves.
        assert not is_complete_new(effective(host), {"maxauthtries": "4"})
    finally:
        first.resume()
    done_first = first.finish()
    assert done_first.code == 0, done_first
    done_patient = patient.finish()
    assert done_patient.code == 0, done_patient
    assert "hardened and confirmed" in done_patient.stderr
    # Strictly one after the other: the last one's complete configuration, nothing mixed.
    assert_new(host, cli, key, {"maxauthtries": "5"})
    plan = cli.run("plan", "--set", "MaxAuthTries=5")
    assert plan.code == 0 and "files to write: none" in plan.stdout, plan


_SLOW_VISUDO = """#!/bin/sh
# Slows the admin step down so that two applies are inside it at the same time.
touch /run/visudo-entered
sleep 5
exec /usr/sbin/visudo "$@"
"""


def test_10_two_applies_started_together_never_interleave(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    key = client_keys.ed25519
    cli = cli_for(host, key, tmp_path)
    cli.run("plan")  # record the host key once, so both runs share known_hosts read-only
    host.run(
        "cat > /usr/local/sbin/visudo && chmod 755 /usr/local/sbin/visudo",
        input=_SLOW_VISUDO,
        check=True,
    )
    a = cli.start("apply", "--set", "MaxAuthTries=4", wait=90, confirm_timeout=60)
    poll("the first apply in the admin step", lambda: host.path("run/visudo-entered").exists(), 60)
    b = cli.start("apply", "--set", "MaxAuthTries=5", wait=90, confirm_timeout=60)
    out_a, out_b = a.finish(), b.finish()
    host.run("rm -f /usr/local/sbin/visudo", check=True)
    codes = sorted([out_a.code, out_b.code])
    # B came while A was inside the admin step: it must have met A's lock, not slipped past.
    assert "another apply is in progress" in out_b.stderr, out_b
    if codes != [0, 0]:
        assert codes[0] == 0, f"neither apply succeeded:\n{out_a}\n{out_b}"
        loser = out_b if out_b.code else out_a
        assert "another apply is in progress" in loser.stdout, loser
    winner = "5" if out_b.code == 0 else "4"
    assert_new(host, cli, key, {"maxauthtries": winner})


# --------------------------------------------------------------------------- 11: interrupted

_FAKE_CLOCK = """#!/bin/sh
# The host's clock for shell scripts, OFFSET seconds ahead (`date +%s` only).
off=$(cat /run/clock-offset 2>/dev/null || echo 0)
if [ "$1" = "+%s" ]; then echo $(( $(/usr/bin/date +%s) + off )); else exec /usr/bin/date "$@"; fi
"""


@contextlib.contextmanager
def _clock_ahead(host: TestHost, seconds: int) -> Iterator[None]:
    """Let the host's scripts believe `seconds` have passed (a stage lease runs 120 s)."""
    host.run(
        f"echo {seconds} > /run/clock-offset && cat > /usr/local/sbin/date"
        " && chmod 755 /usr/local/sbin/date",
        input=_FAKE_CLOCK,
        check=True,
    )
    try:
        yield
    finally:
        host.run("rm -f /usr/local/sbin/date /run/clock-offset", check=True)


def _cut_connections(port: int) -> None:
    """Drop every TCP connection the tool has open to the host (the host's side sees a reset)."""
    subprocess.run(
        ["ss", "-K", "-t", "dst", LOOPBACK, "dport", "=", f":{port}"],
        check=True,
        capture_output=True,
    )


STEPS = {
    "admin": "proving ops can log in",
    "staged": "validated with sshd -t",
    "reloaded": "reloaded sshd",
    "confirmed": "hardened and confirmed",
}


@pytest.mark.parametrize(
    ("step", "how"),
    [
        ("admin", "kill"),
        ("staged", "kill"),
        ("confirmed", "kill"),  # "reloaded"+kill is test_03
        ("staged", "cut"),
        ("reloaded", "cut"),
    ],
)
def test_11_apply_interrupted_at_each_step_the_next_apply_converges(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path, step: str, how: str
) -> None:
    host = host_factory("bookworm")
    key = client_keys.ed25519
    cli = cli_for(host, key, tmp_path)
    before = snapshot(host)
    run = cli.start("apply", confirm_timeout=10)
    run.wait_for(STEPS[step])
    cut: Outcome | None = None
    if how == "kill":
        run.kill()
    else:
        run.pause()  # hold it right at this step while its connection is cut
        _cut_connections(host.port)
        run.resume()
        cut = run.finish()
        if step == "reloaded":  # verification and confirmation use a fresh connection
            assert cut.code == 0, cut
        else:
            assert cut.code == 4, cut
            assert f"lost the connection to root@127.0.0.1:{host.port}" in cut.stdout, cut
            if step == "staged":  # the tool reconnects, finds only its staged files: cleans up
                assert "before the change reached sshd" in cut.stdout, cut
                assert "the lock were removed, nothing changed" in cut.stdout, cut
    # A kill right after "validated" may land before or during the commit: either is fine.
    expected = {"admin": {"old"}, "staged": {"old", "new"}, "reloaded": {"new"}}
    assert old_or_new(host, before) in expected.get(step, {"new"})
    held = not lock_gone(host)
    assert not (held and cut), f"the tool reconnected, yet left its own lock behind:\n{cut}"
    if held:
        # A staged transaction keeps its lease for 120 s; a committed one has a watcher. A
        # hasty apply is refused with the reason; after the lease the next one converges.
        busy = cli.run("apply", wait=2)
        assert busy.code == 4, busy
        assert f"another apply is in progress on the host (busy: another apply holds {LOCK}" in (
            busy.stdout
        ), busy
        with _clock_ahead(host, 300):
            converge(host, cli, key)
    else:
        converge(host, cli, key)
