"""A userspace delay line: packets between a client namespace and a test host, held RTT/2 each way.

This kernel has no netem, so latency is made here: two TUN devices, one moved into a network
namespace of our own for the client (`ip netns` name `hecsl-c<N>`), one into the test host's own
network namespace; a thread copies every IP packet from one to the other after holding it for
half the round-trip time. Packet-level, so TCP behaves as over a real link: the handshake, ACKs,
Nagle's algorithm, slow start and the window all pay the delay (a TCP relay would ACK locally).

Addresses: 10.233.<N>.1 (client) and 10.233.<N>.<2+i> (host i); the client reaches a host only
through its TUN device. Nothing is routed or forwarded on this machine itself.
"""

from __future__ import annotations

import fcntl
import heapq
import os
import random
import select
import struct
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

TUNSETIFF: Final = 0x400454CA
IFF_TUN: Final = 0x0001
IFF_NO_PI: Final = 0x1000
NETNS_PREFIX: Final = "hecsl-c"
MAX_QUEUED: Final = 20_000  # packets in flight at most (a router's queue; beyond it: dropped)


class DelayLineError(RuntimeError):
    pass


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DelayLineError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


def _open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


@dataclass
class DelayLine:
    """One client namespace and up to 200 hosts, each behind its own pair of TUN devices."""

    index: int  # 0-255: the third octet of 10.233.x and the names' suffix
    rtt: float = 0.0  # seconds, round trip (each direction holds rtt / 2)
    loss: float = 0.0  # the share of packets dropped, each on its own (a lossy link)
    _pairs: dict[int, int] = field(default_factory=dict)  # fd -> the fd its packets go to
    _fds: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _to_host: set[int] = field(default_factory=set)  # client-side devices
    _by_address: dict[str, tuple[int, int]] = field(default_factory=dict)
    _hosts: int = 0
    _queue: list[tuple[float, int, int, bytes]] = field(default_factory=list)  # due,seq,to,pkt
    _seq: int = 0
    dropped: int = 0
    # When a list: (time, towards the host?, IP packet length, TCP payload length) per packet,
    # to see where an operation's round trips go.
    trace: list[tuple[float, bool, int, int]] | None = None

    @property
    def netns(self) -> str:
        return f"{NETNS_PREFIX}{self.index}"

    @property
    def client_address(self) -> str:
        return f"10.233.{self.index}.1"

    def __enter__(self) -> DelayLine:
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)
        _ip("netns", "add", self.netns)
        _ip("-n", self.netns, "link", "set", "lo", "up")
        self._thread = threading.Thread(target=self._forward, name="delayline", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for fd in self._fds:
            os.close(fd)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)

    def attach(self, host_pid: int | str) -> str:
        """Give the host whose PID 1 is `host_pid` (or whose network namespace is the `ip netns`
        name `host_pid`) an address behind the line; returns it."""
        n = self._hosts
        if n >= 200:
            raise DelayLineError("at most 200 hosts per delay line")
        self._hosts += 1
        address = f"10.233.{self.index}.{2 + n}"
        client_if, host_if = f"hecslc{self.index}x{n}", f"hecslh{self.index}x{n}"
        cfd, hfd = _open_tun(client_if), _open_tun(host_if)
        self._fds += [cfd, hfd]
        _ip("link", "set", client_if, "netns", self.netns)
        _ip("link", "set", host_if, "netns", str(host_pid))
        peer = ("peer",)
        _ip("-n", self.netns, "addr", "add", self.client_address, *peer, address, "dev", client_if)
        _ip("-n", self.netns, "link", "set", client_if, "up")
        if isinstance(host_pid, str):
            ns = ["ip", "-n", host_pid]
        else:
            ns = ["nsenter", "--target", str(host_pid), "--net", "--", "ip"]
        for args in (
            ("addr", "add", address, *peer, self.client_address, "dev", host_if),
            ("link", "set", host_if, "up"),
        ):
            proc = subprocess.run([*ns, *args], capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise DelayLineError(f"in the host: ip {' '.join(args)}: {proc.stderr.strip()}")
        with self._lock:
            self._pairs[cfd], self._pairs[hfd] = hfd, cfd
            self._to_host.add(cfd)
        self._by_address[address] = (cfd, hfd)
        return address

    def detach(self, address: str) -> None:
        """Forget a host (after it stopped): its devices went with its namespace."""
        with self._lock:  # never while the forwarder selects on these descriptors
            for fd in self._by_address.pop(address, ()):
                self._pairs.pop(fd, None)
                self._to_host.discard(fd)
                self._fds.remove(fd)
                os.close(fd)
            # Packets still queued for it must not reach a later device that reuses the fd.
            self._queue[:] = [q for q in self._queue if q[2] in self._pairs]
            heapq.heapify(self._queue)

    def command(self, argv: Sequence[str]) -> list[str]:
        """argv run inside the client namespace (the only side that reaches the hosts)."""
        return ["ip", "netns", "exec", self.netns, *argv]

    def _forward(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self._pass()

    def _pass(self) -> None:
        """One wake-up: read what arrived, send what is due."""
        queue = self._queue
        fds = list(self._pairs)
        wait = min(0.05, max(0.0, queue[0][0] - time.monotonic()) if queue else 0.05)
        if not fds:
            time.sleep(wait)
            return
        ready = select.select(fds, [], [], wait)[0]
        now = time.monotonic()  # after the wait: a packet is held rtt/2 from when it arrived
        for fd in ready:
            for _ in range(64):  # bounded per wake-up: the other direction gets its turn
                try:
                    packet = os.read(fd, 65536)
                except OSError:  # nothing more (EAGAIN), or the device is gone
                    break
                if len(queue) >= MAX_QUEUED or (self.loss and random.random() < self.loss):
                    self.dropped += 1
                    continue
                self._seq += 1
                if self.trace is not None:
                    self.trace.append((now, fd in self._to_host, len(packet), _payload(packet)))
                heapq.heappush(queue, (now + self.rtt / 2, self._seq, self._pairs[fd], packet))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, to, packet = heapq.heappop(queue)
            try:
                os.write(to, packet)
            except OSError:
                self.dropped += 1


def _payload(packet: bytes) -> int:
    """TCP payload bytes of an IPv4 packet (0 for anything else)."""
    if len(packet) < 40 or packet[0] >> 4 != 4 or packet[9] != 6:
        return 0
    ihl = (packet[0] & 15) * 4
    return len(packet) - ihl - (packet[ihl + 12] >> 4) * 4


def measured_rtt(line: DelayLine, address: str, port: int = 22, samples: int = 5) -> float:
    """The median TCP connect time from the client namespace (one SYN/SYN-ACK round trip)."""
    code = (
        "import socket,statistics,sys,time\n"
        "a,p,n=sys.argv[1],int(sys.argv[2]),int(sys.argv[3])\n"
        "t=[]\n"
        "for _ in range(n):\n"
        "    s=time.perf_counter(); c=socket.create_connection((a,p),timeout=10)\n"
        "    t.append(time.perf_counter()-s); c.close()\n"
        "print(statistics.median(t))\n"
    )
    proc = subprocess.run(
        line.command(["python3", "-c", code, address, str(port), str(samples)]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        raise DelayLineError(f"TCP connect through the delay line failed: {proc.stderr.strip()}")
    return float(proc.stdout.strip())
