"""SSH transport: connect (waiting for a booting host), with trust.py checking host keys like
OpenSSH and userauth.py logging in, and run scripts (channel.py sends them and collects their
output).

Built on paramiko's Transport rather than SSHClient so that host-key checking, algorithm choice
and retries are ours and explicit: no silent trust-on-first-use, no agent, no stray keys.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

import paramiko

from hardening.model.client import HOST_KEY_ALGORITHMS, paramiko_list
from hardening.model.defaults import COMMAND_TIMEOUT
from hardening.model.errors import ConnectError
from hardening.model.progress import Progress, Status, plural
from hardening.ssh import userauth
from hardening.ssh.channel import (
    ChannelAhead,
    HostMisbehaved,
    collect,
    exec_script,
)
from hardening.ssh.keys import fingerprint
from hardening.ssh.stats import Stats
from hardening.ssh.trust import HostKeyPolicy, KnownHostsCheck

DISABLED_ALGORITHMS = {
    "keys": [k for k in paramiko_list("_preferred_keys") if k not in HOST_KEY_ALGORITHMS]
}


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    user: str
    key: paramiko.PKey
    host_keys: HostKeyPolicy = field(default_factory=HostKeyPolicy)
    # What the operator calls the host (an inventory entry's `name`), for progress lines.
    name: str | None = None

    @property
    def label(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    @property
    def shown(self) -> str:
        """The host in progress lines: its name, else the address (and a port other than 22,
        so two hosts on one address stay apart)."""
        if self.name:
            return self.name
        return self.host if self.port == 22 else f"{self.host}:{self.port}"

    def as_user(self, user: str) -> Target:
        return Target(self.host, self.port, user, self.key, self.host_keys, self.name)


@dataclass(frozen=True)
class Result:
    stdout: str
    stderr: str
    status: int


_AS_ROOT = "@hardened-ecs-as-root"


class SudoError(ConnectError):
    """Logged in, but sudo wants a password (or refuses): we cannot act as root."""


class Connection:
    """One authenticated SSH connection. Close it; never keep it beyond one operation."""

    def __init__(
        self,
        transport: paramiko.Transport,
        target: Target,
        stats: Stats,
        command_timeout: float = COMMAND_TIMEOUT,
        rtt: float = 0.0,
        spare: ChannelAhead | None = None,
    ) -> None:
        self._transport = transport
        self.rtt = rtt  # seconds, the TCP handshake's: what waits on this link scale with
        self.target = target
        self.stats = stats
        self.command_timeout = command_timeout  # seconds in total for one command
        self.host_key = transport.get_remote_server_key()
        self._spare = spare  # the next command's channel, opened ahead

    @property
    def host_key_fingerprint(self) -> str:
        return fingerprint(self.host_key)

    @property
    def negotiated(self) -> dict[str, str]:
        # The key exchange is not kept once done (paramiko drops its engine); `sshd -T`
        # covers KexAlgorithms.
        t = self._transport
        return {
            "Ciphers": str(getattr(t, "remote_cipher", "")),
            "MACs": str(getattr(t, "remote_mac", "")),
            "HostKeyAlgorithms": str(t.host_key_type),
        }

    @property
    def alive(self) -> bool:
        return self._transport.is_active()

    def run(
        self,
        script: str,
        *,
        as_root: bool = True,
        timeout: float | None = None,
        step: str = "command",
    ) -> Result:
        """Run a POSIX sh script (sent on stdin). As root through `sudo -n` when not root.

        Bounded: `timeout` (default `command_timeout`) seconds in total, channel.MAX_OUTPUT bytes.
        `step` names it in the timeline.
        """
        started = time.monotonic()
        try:
            return self._run(script, as_root, timeout)
        finally:
            self.stats.timeline.append((step, started, time.monotonic()))

    def _run(self, script: str, as_root: bool, timeout: float | None) -> Result:
        timeout = self.command_timeout if timeout is None else timeout
        sudo = as_root and self.target.user != "root"
        # The marker proves sudo let us in, whatever sudo prints besides (cloud images warn
        # "unable to resolve host" on every call).
        # sudo resets the environment: hand SSH_CONNECTION (our address, for Match) across.
        command = (
            f'sudo -n -- env SSH_CONNECTION="$SSH_CONNECTION" '
            f"sh -c 'echo {_AS_ROOT} >&2; exec sh -s'"
            if sudo
            else "sh -s"
        )
        self.stats.commands += 1
        # One deadline for the whole command, not per read: a host that trickles a byte at a
        # time must not hold the run (or a fleet slot) for ever.
        deadline = time.monotonic() + timeout
        try:
            chan = self._channel(min(30.0, timeout))
            try:
                chan.settimeout(timeout)
                exec_script(chan, command, script)
                # The next command's channel opens while this one runs: one round trip less.
                self._spare = ChannelAhead(self._transport)
                stdout, stderr = collect(chan, deadline, self.target.label, timeout)
                if not chan.event_ready and not chan.status_event.is_set():
                    raise HostMisbehaved(f"{self.target.label} refused to run the command")
                if not chan.status_event.wait(max(0.0, deadline - time.monotonic())):
                    raise HostMisbehaved(
                        f"a command on {self.target.label} sent no exit status within "
                        f"{timeout:g}s in total; stopped waiting for it"
                    )
                status = chan.recv_exit_status()
                # No exit status and a dead transport: the connection dropped while the
                # command ran (paramiko closes its channels only after marking it inactive).
                if status == -1 and not self._transport.is_active():
                    raise EOFError("closed before the command's exit status")
            finally:
                chan.close()
        except (OSError, paramiko.SSHException, EOFError) as exc:
            why = str(exc) or type(exc).__name__
            raise ConnectError(f"lost the connection to {self.target.label} ({why})") from None
        out, err = stdout.decode(errors="replace"), stderr.decode(errors="replace")
        if sudo:
            before, marker, after = err.partition(_AS_ROOT + "\n")
            if marker:
                err = before + after
        if sudo and not marker:
            raise SudoError(
                f"{self.target.user} on {self.target.host} cannot run commands as root without "
                f"a password (sudo said: {(err.strip().splitlines() or ['nothing'])[-1]}); "
                "give it passwordless "
                f"sudo (a file in /etc/sudoers.d with '{self.target.user} ALL=(ALL) NOPASSWD:ALL') "
                "or connect as root"
            )
        return Result(out, err, status)

    def _channel(self, timeout: float) -> paramiko.Channel:
        """A session channel: the one opened ahead if it is there, else a new one."""
        spare, self._spare = self._spare, None
        chan = spare.take(timeout) if spare is not None else None
        return chan if chan is not None else self._transport.open_session(timeout=timeout)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def scaled(seconds: float, rtt: float, round_trips: float) -> float:
    """A time-out that a slow link cannot trip: `seconds`, or `round_trips` RTTs if longer."""
    return max(seconds, round_trips * rtt)


def _opens_behind_login(transport: paramiko.Transport) -> bool:
    """Whether the first command's channel may be asked for right behind the login request:
    OpenSSH's sshd reads messages in order, and those after a successful login request only
    once it succeeded (other servers, Dropbear for one, end a session that asks before)."""
    return str(getattr(transport, "remote_version", "")).startswith("SSH-2.0-OpenSSH_")


class _Retry(Exception):
    """A failure worth retrying while the host boots."""


class _Refused(_Retry):
    """The server answered but refused this user's key."""


def _attempt(
    target: Target, trust: KnownHostsCheck, timeout: float, stats: Stats
) -> tuple[paramiko.Transport, float, ChannelAhead | None]:
    """An authenticated transport, the round-trip time its TCP handshake took, and the first
    command's channel when it was opened behind the login (`_opens_behind_login`)."""
    started = time.monotonic()
    try:
        sock = socket.create_connection((target.host, target.port), timeout=timeout)
    except OSError as exc:  # refused, unreachable, timed out: a booting host looks like this
        raise _Retry(f"TCP connect failed: {exc.strerror or exc}") from None
    rtt = time.monotonic() - started
    stats.connections += 1  # an SSH connection is opened once TCP is up
    # Every SSH message is a small write that must not wait for the ACK of the one before
    # (Nagle): a round trip each, over a real link.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport = paramiko.Transport(sock, disabled_algorithms=DISABLED_ALGORITHMS)
    transport.banner_timeout = timeout
    transport.auth_timeout = timeout
    try:
        known = trust.known_types()
        if known:  # like OpenSSH: ask for the key type we already know first
            opts = transport.get_security_options()
            opts.key_types = tuple(known + [k for k in opts.key_types if k not in known])
        try:
            transport.start_client(timeout=timeout)
            # paramiko returns quietly when its own deadline passes mid-handshake (a server
            # that accepts and stalls): no key exchange, no server key.
            if not transport.is_active() or not getattr(transport, "initial_kex_done", False):
                raise _Retry(f"SSH handshake timed out after {timeout:g}s (server stalled)")
            server_key = transport.get_remote_server_key()
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise _Retry(f"SSH handshake failed: {exc}") from None
        trust.verify(server_key)
        ahead: list[ChannelAhead] = []

        def open_ahead() -> None:
            ahead.append(ChannelAhead(transport))

        early = open_ahead if _opens_behind_login(transport) else None
        try:
            first = userauth.auth_publickey(transport, target.user, target.key, then=early)
        except paramiko.BadAuthenticationType as exc:
            raise ConnectError(
                f"{target.label} does not accept public keys "
                f"(it offers {', '.join(exc.allowed_types)})"
            ) from None
        except paramiko.AuthenticationException:
            # Also what a booting instance says before cloud-init installed the key.
            raise _Refused(target.user) from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise _Retry(f"authentication failed: {exc}") from None
        # A channel asked for behind a request the server refused was never read as one.
        return transport, rtt, ahead[0] if first and ahead else None
    except BaseException:
        transport.close()
        raise


def connect(
    target: Target,
    *,
    wait: float,
    stats: Stats,
    progress: Progress | None = None,
    fallback_user: str | None = None,
    command_timeout: float = COMMAND_TIMEOUT,
) -> Connection:
    """Connect, retrying refused/banner/auth failures with backoff for up to `wait` seconds.

    `fallback_user` is tried at once when the server refuses `target.user`'s key: after a
    first apply root is closed, and the same command must still work.
    """
    trust = KnownHostsCheck(target.host_keys, target.host, target.port)
    started = time.monotonic()
    deadline = started + wait
    delay = 0.2
    attempts = 0
    last = "no attempt made"
    users = [target] + ([target.as_user(fallback_user)] if fallback_user else [])
    while True:
        remaining = deadline - time.monotonic()
        refused: list[str] = []
        attempts += 1
        for candidate in users:
            try:
                timeout = max(5.0, min(30.0, remaining))
                transport, rtt, ahead = _attempt(candidate, trust, timeout, stats)
                stats.timeline.append((f"login as {candidate.user}", started, time.monotonic()))
                return Connection(transport, candidate, stats, command_timeout, rtt, ahead)
            except _Refused as exc:
                refused.append(str(exc))
                last = f"the server refused the key for {' and for '.join(refused)}"
            except _Retry as exc:
                last = str(exc)
                break  # the host itself is not ready: no point trying another user
        now = time.monotonic()
        if now >= deadline:
            raise ConnectError(_gave_up(target, wait, last, attempts, now - started))
        if progress is not None:
            state = f"{target.shown}: {last}"
            left = max(0, int(deadline - now))
            progress(Status(f"{state}; retrying ({left}s left)", host=target.shown, state=state))
        # The last attempt is made at the deadline itself: --wait N waits N seconds.
        time.sleep(min(delay, deadline - now))
        delay = min(delay * 1.6, 5.0)


def _gave_up(target: Target, wait: float, last: str, attempts: int, seconds: float) -> str:
    if wait <= 0:
        return (
            f"cannot reach {target.label}: {last} (tried once: to wait for a booting host, "
            "give --wait SECONDS)"
        )
    return (
        f"cannot reach {target.label} within {wait:g}s (--wait): {last} "
        f"({plural(attempts, 'attempt')} in {seconds:.1f}s)"
    )
