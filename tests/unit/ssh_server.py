"""An SSH server in the test process (paramiko.ServerInterface on 127.0.0.1, a port the OS
chooses): for the transport, channel, user-auth and host-key tests where a real sshd adds
nothing. No root, no host, no network beyond loopback.

A command runs as sshd runs one: `/bin/sh -c COMMAND` (the login shell), as the test's own
user, its stdin, stdout, stderr and exit status on the channel. `on_exec` replaces that for a
server that misbehaves.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)

from tests.testhosts.chroot import LOOPBACK

# What the server does with an exec request: True to accept it (and act on the channel in a
# thread of its own), False to refuse it.
OnExec = Callable[["LoopbackServer", paramiko.Channel, str], bool]


def new_ed25519_key() -> paramiko.Ed25519Key:
    """A fresh ed25519 key (paramiko cannot generate one itself)."""
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    return paramiko.Ed25519Key(file_obj=io.StringIO(pem.decode()))


@dataclass
class AuthAttempt:
    user: str
    key_type: str
    accepted: bool


class _Interface(paramiko.ServerInterface):
    def __init__(self, server: LoopbackServer) -> None:
        self.server = server

    def get_allowed_auths(self, username: str) -> str:
        return self.server.auths

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = (
            "publickey" in self.server.auths.split(",")
            and username in self.server.users
            and any(key.asbytes() == k.asbytes() for k in self.server.authorized)
        )
        self.server.auth_attempts.append(AuthAttempt(username, key.get_name(), ok))
        return AUTH_SUCCESSFUL if ok else AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return OPEN_SUCCEEDED
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        text = command.decode()
        self.server.commands.append(text)
        # This runs on the transport's own thread: act on the channel in another.
        return self.server.on_exec(self.server, channel, text)


def run_in_shell(server: LoopbackServer, chan: paramiko.Channel, command: str) -> bool:
    """sshd's way: the login shell runs the command line, wired to the channel."""
    server.spawn(_shell, server, chan, command)
    return True


def _shell(server: LoopbackServer, chan: paramiko.Channel, command: str) -> None:
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=server.cwd,
        start_new_session=True,  # its own process group: a pipeline ends with it (_kill)
    )
    server.procs.append(proc)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    pumps = [
        threading.Thread(target=_feed, args=(chan, proc.stdin), daemon=True),
        threading.Thread(target=_drain, args=(proc.stdout, chan.sendall, proc), daemon=True),
        threading.Thread(target=_drain, args=(proc.stderr, chan.sendall_stderr, proc), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    status = proc.wait()
    for pump in pumps:  # the feed ends at the client's EOF: the exec reply went before it
        pump.join()
    try:
        chan.send_exit_status(status if status >= 0 else 128 - status)  # killed: 128 + signal
        chan.close()
    except (OSError, EOFError, paramiko.SSHException):
        pass  # the client went away first


def read_to_eof(chan: paramiko.Channel) -> None:
    """Wait for the client's EOF on stdin. The server's reply to the exec request has gone
    by then (the transport handles messages in order): a channel acted on before it could be
    closed ahead of its own reply, which no real sshd does."""
    try:
        while chan.recv(65536):
            pass
    except (OSError, EOFError, paramiko.SSHException):
        pass


def _feed(chan: paramiko.Channel, stdin: IO[bytes]) -> None:
    try:
        while data := chan.recv(65536):
            stdin.write(data)
            stdin.flush()
    except (OSError, EOFError, paramiko.SSHException):
        pass
    finally:
        with contextlib.suppress(OSError):
            stdin.close()


def _drain(stream: IO[bytes], send: Callable[[bytes], None], proc: subprocess.Popen[bytes]) -> None:
    try:
        while data := stream.read1(65536):  # type: ignore[attr-defined]
            send(data)
    except (OSError, EOFError, paramiko.SSHException):
        _kill(proc)  # nobody reads it any more: sshd's session ends with its channel


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """The command and everything it started (a pipeline holds the output pipes too)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class LoopbackServer:
    """Serves SSH on 127.0.0.1:`port` until closed."""

    host_keys: list[paramiko.PKey]
    authorized: list[paramiko.PKey]
    users: frozenset[str] = frozenset({"root"})
    on_exec: OnExec = run_in_shell
    auths: str = "publickey"  # the methods it offers, comma-separated
    cwd: str | None = None
    # What it saw and started, for tests to look at and close() to end.
    auth_attempts: list[AuthAttempt] = field(default_factory=list, init=False)
    commands: list[str] = field(default_factory=list, init=False)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list, init=False)
    transports: list[paramiko.Transport] = field(default_factory=list, init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((LOOPBACK, 0))
        self._sock.listen(8)
        self._sock.settimeout(0.1)  # how often the accept loop looks for close()
        self.port: int = self._sock.getsockname()[1]
        self.spawn(self._accept_loop)

    def spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            transport = paramiko.Transport(conn)
            for key in self.host_keys:
                transport.add_server_key(key)
            self.transports.append(transport)
            try:
                transport.start_server(server=_Interface(self))
            except (paramiko.SSHException, EOFError, OSError):
                transport.close()  # a client that left during the handshake

    def drop_connections(self) -> None:
        """Every connection ends at once, as when the server's session processes die."""
        for transport in self.transports:
            transport.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self.drop_connections()
        for proc in self.procs:
            _kill(proc)
            proc.wait()
        for thread in self._threads:
            thread.join(timeout=10)
