"""A prober for first boots: what a stranger on the network is offered, many times a second.

Each round is one SSH connection from its own source address (OpenSSH 9.8+ penalises an
address for failed or unauthenticated connections, which would silence a prober that kept
one): the host key presented, the authentication methods offered (``none`` is refused with
the list), and a real root login attempt with a key root holds. Source addresses are /32s of
10.232.<bridge>.0/24 added to the test process's bridge; the host answers them through its
default route (the bridge's gateway), so nothing is forwarded.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import paramiko

from hardening.ssh.keys import load_private_key
from tests.testhosts.network import Bridge

POOL_SIZE: Final = 200
PAUSE: Final = 0.2  # seconds between rounds


@dataclass(frozen=True)
class Round:
    at: float  # monotonic seconds
    answered: bool  # an SSH server completed the key exchange
    fingerprint: str | None = None
    methods: tuple[str, ...] = ()
    root_in: bool = False
    error: str = ""


class SourcePool:
    """Source addresses on the bridge, handed out round-robin; removed by close()."""

    def __init__(self, bridge: Bridge, size: int = POOL_SIZE) -> None:
        self.bridge = bridge
        self.addresses = [f"10.232.{bridge.index}.{n}" for n in range(1, size + 1)]
        for addr in self.addresses:
            subprocess.run(
                ["ip", "addr", "add", f"{addr}/32", "dev", bridge.name],
                capture_output=True,
                check=True,
            )
        self._next = 0

    def take(self) -> str:
        addr = self.addresses[self._next % len(self.addresses)]
        self._next += 1
        return addr

    def close(self) -> None:
        for addr in self.addresses:
            subprocess.run(
                ["ip", "addr", "del", f"{addr}/32", "dev", self.bridge.name],
                capture_output=True,
                check=False,
            )


def probe_once(address: str, source: str, root_key: paramiko.PKey) -> Round:
    at = time.monotonic()
    try:
        sock = socket.create_connection((address, 22), timeout=1.0, source_address=(source, 0))
    except OSError as exc:
        return Round(at, False, error=f"tcp: {exc}")
    transport = paramiko.Transport(sock)
    try:
        try:
            transport.start_client(timeout=5)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            return Round(at, False, error=f"handshake: {exc}")
        if not transport.is_active():
            return Round(at, False, error="handshake: no key exchange")
        fp = str(transport.get_remote_server_key().fingerprint)
        try:
            transport.auth_none("root")
            return Round(at, True, fp, ("none",), root_in=True)
        except paramiko.BadAuthenticationType as exc:
            methods = tuple(exc.allowed_types)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            return Round(at, True, fp, error=f"none: {exc}")
        try:
            transport.auth_publickey("root", root_key)
            root_in = transport.is_authenticated()
        except paramiko.AuthenticationException:
            root_in = False
        except (paramiko.SSHException, EOFError, OSError) as exc:
            return Round(at, True, fp, methods, error=f"publickey: {exc}")
        return Round(at, True, fp, methods, root_in)
    finally:
        transport.close()


@dataclass
class Prober:
    """Probes `address` from the moment start() is called until stop()."""

    address: str
    pool: SourcePool
    root_key_file: Path
    rounds: list[Round] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        key = load_private_key(path=str(self.root_key_file))
        self._thread = threading.Thread(target=self._loop, args=(key,), daemon=True)
        self._thread.start()

    def _loop(self, key: paramiko.PKey) -> None:
        while not self._stop.is_set():
            self.rounds.append(probe_once(self.address, self.pool.take(), key))
            self._stop.wait(PAUSE)

    def stop(self) -> list[Round]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        return self.rounds
