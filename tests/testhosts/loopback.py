"""127.0.0.1 for the chroot hosts: free ports, the kernel's listen sockets, an SSH banner.

The chroot hosts share this machine's network namespace, so each listens on a port of its own
on 127.0.0.1 only (never on all addresses).
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from pathlib import Path
from typing import Final

from tests.testhosts.procs import TestHostError

LOOPBACK: Final = "127.0.0.1"

PORT_LOCK: Final = threading.Lock()
PORTS_IN_USE: set[int] = set()


def _port_range() -> range:
    # Stay below the kernel's ephemeral range so client sockets never take a host's port.
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    top = max(min(low, 32768), 12000)
    return range(top - 10000, top)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def allocate_port() -> int:
    """A free TCP port on 127.0.0.1 that no other host of this process holds."""
    ports = _port_range()
    start = random.randrange(len(ports))  # spread parallel test sessions apart
    with PORT_LOCK:
        for i in range(len(ports)):
            port = ports[(start + i) % len(ports)]
            if port not in PORTS_IN_USE and _port_is_free(port):
                PORTS_IN_USE.add(port)
                return port
    raise TestHostError("no free port on 127.0.0.1")


def listen_inodes(port: int) -> set[int]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if f[3] == "0A" and int(f[1].rpartition(":")[2], 16) == port:  # 0A: LISTEN
                    inodes.add(int(f[9]))
    return inodes


def read_banner(port: int, host: str = LOOPBACK, timeout: float = 5.0) -> str:
    with socket.create_connection((host, port), timeout=timeout) as s:
        data = b""
        while b"\n" not in data and len(data) < 512:
            chunk = s.recv(512)
            if not chunk:
                break
            data += chunk
    return data.split(b"\n", 1)[0].decode(errors="replace").strip()
