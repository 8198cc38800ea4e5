"""Round trips from a packet capture (issue 22): the ground truth the slope method is checked by.

The capture is taken on the client's side of the delay line (bench/delayline.py), so every
packet from the server arrives at least one RTT after the client packet that caused it. A
round trip is one time the client waits for the server before it can send again: a client
packet that carries something (payload, SYN or FIN; pure ACKs are the kernel's, not a
decision) sent after a server packet with something in it arrived since the client's last
such packet. Two such sends less than half an RTT apart are one wait (the server's answer
came in pieces), so the count needs an RTT well above the machine's jitter (150 ms in the
bench). The first SYN of each connection is not a wait, its SYN-ACK is.

Input: `tshark -T fields` output with FIELDS, tab-separated, one packet a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

# The tshark fields read, in this order (tshark -T fields -e ... -E separator=/t).
FIELDS: Final = (
    "frame.time_relative",
    "ip.src",
    "tcp.stream",
    "tcp.len",
    "tcp.flags.syn",
    "tcp.flags.fin",
)


class CaptureError(ValueError):
    pass


@dataclass(frozen=True)
class Packet:
    time: float  # seconds since the capture began
    from_client: bool
    stream: int  # tshark's TCP stream number: one per connection
    payload: int  # TCP payload bytes
    syn: bool
    fin: bool

    @property
    def carries(self) -> bool:
        """Something a peer decided to send (not a bare ACK)."""
        return self.payload > 0 or self.syn or self.fin


@dataclass(frozen=True)
class Count:
    round_trips: int
    connections: int
    waits: tuple[float, ...]  # when each wait ended (the client's send), for the timeline
    client_bytes: int
    server_bytes: int
    span: float  # seconds from the first packet to the last: waits, CPU and all
    first_syn: float = 0.0  # when the client's first SYN went (the waits' clock)


def _flag(text: str) -> bool:
    # tshark prints flags as 1/0, or True/False in newer versions.
    return text.strip() in ("1", "True")


def parse_fields(text: str, client: str) -> list[Packet]:
    """tshark's FIELDS lines -> packets; `client` is the client's IP address."""
    packets = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != len(FIELDS):
            raise CaptureError(f"line {n}: {len(cols)} fields, expected {len(FIELDS)}: {line!r}")
        if not cols[2]:  # not TCP (e.g. an ICMP or an IPv6 router solicitation)
            continue
        try:
            packets.append(
                Packet(
                    time=float(cols[0]),
                    from_client=cols[1] == client,
                    stream=int(cols[2]),
                    payload=int(cols[3] or 0),
                    syn=_flag(cols[4]),
                    fin=_flag(cols[5]),
                )
            )
        except ValueError as exc:
            raise CaptureError(f"line {n}: {exc}: {line!r}") from None
    return packets


def count_round_trips(packets: Iterable[Packet], rtt: float) -> Count:
    """The times the client waited for the server (see the module's docstring)."""
    if rtt <= 0:
        raise CaptureError(f"rtt must be > 0 to tell waits apart, got {rtt}")
    slack = max(0.01, rtt / 15)  # the delay line's jitter under load
    heard = False  # a server packet with something in it arrived since the client last sent
    server_ack = float("-inf")  # when the server's last bare ACK arrived
    server_data = float("-inf")  # when the server's last packet with something in it arrived
    client_acks: list[float] = []
    syns: list[float] = []
    events: list[float] = []
    streams: set[int] = set()
    sent = received = 0
    ordered = sorted(packets, key=lambda p: p.time)
    for p in ordered:
        if not p.from_client:
            received += p.payload
            if not p.carries:
                server_ack = p.time
                continue
            heard = True
            # Held by the server until one of our bare ACKs reached it (its Nagle, or its
            # congestion window): nothing else came for a round trip, then this, one RTT after
            # that ACK. The client waited a round trip for the rest, from that ACK on.
            held = [t for t in client_acks if abs(p.time - rtt - t) <= slack]
            if held and p.time - server_data >= rtt - slack:
                events.append(held[-1])
            server_data = p.time
            continue
        sent += p.payload
        if p.syn:
            streams.add(p.stream)
            syns.append(p.time)
        if not p.carries:
            client_acks.append(p.time)
            continue
        # Sent on the server's answer, or at once on its bare ACK: data our kernel held for
        # that ACK (Nagle: the OpenSSH client sets no TCP_NODELAY on a session without a tty).
        if heard or p.time - server_ack <= slack:
            events.append(p.time)
        heard, server_ack = False, float("-inf")
    waits: list[float] = []
    for t in sorted(events):
        if not waits or t - waits[-1] >= rtt / 2:
            waits.append(t)
    span = ordered[-1].time - ordered[0].time if ordered else 0.0
    first = syns[0] if syns else 0.0
    return Count(len(waits), len(streams), tuple(waits), sent, received, span, first)


def per_step(
    count: Count, timeline: Sequence[tuple[str, float]], rtt: float
) -> list[tuple[str, int]]:
    """The waits by the engine's own steps (`timeline`: each step's name and start, in
    seconds on its clock, from its --json), in order. A wait belongs to the step the client
    waited in: the last one begun half an RTT before the wait ended (the send that ends a
    wait at a step's start answers the step before; a wait inside a step ends a round trip
    or more after its first send). The clocks meet at the first login's start, when the
    first SYN went."""
    if not timeline:
        return []
    shift = count.first_syn - timeline[0][1]
    counts = [0] * len(timeline)
    for t in count.waits:
        begun = [i for i, (_, at) in enumerate(timeline) if at + shift <= t - rtt / 2]
        counts[begun[-1] if begun else 0] += 1
    return [(name, n) for (name, _), n in zip(timeline, counts, strict=True)]
