"""bench/capture.py: round trips counted from a packet capture (issue 22), on synthetic packets
and on a recorded capture of one `ssh root@host true` through the delay line at 150 ms."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.capture import CaptureError, Packet, count_round_trips, parse_fields

RTT = 0.15
CLIENT = "10.233.201.1"  # the host was 10.233.201.3
RECORDED = Path(__file__).with_name("data") / "ssh_true_150ms.fields"


def c(t: float, payload: int = 0, syn: bool = False, fin: bool = False) -> Packet:
    return Packet(t, True, 0, payload, syn, fin)


def s(t: float, payload: int = 0, syn: bool = False, fin: bool = False) -> Packet:
    return Packet(t, False, 0, payload, syn, fin)


def test_each_answer_the_client_waits_for_is_one_round_trip() -> None:
    packets = [
        c(0.00, syn=True),
        s(0.15, syn=True),  # SYN-ACK: the first wait
        c(0.15, 30),
        s(0.30, 40),
        c(0.30, 100),  # second
        s(0.45, 200),
        c(0.45, fin=True),  # third: the FIN is sent on the server's answer
    ]
    got = count_round_trips(packets, RTT)
    assert got.round_trips == 3
    assert got.waits == (0.15, 0.30, 0.45)
    assert (got.connections, got.client_bytes, got.server_bytes) == (1, 130, 240)
    assert got.span == pytest.approx(0.45)


def test_pure_acks_are_not_decisions_and_pipelined_sends_are_no_wait() -> None:
    packets = [
        c(0.00, syn=True),
        s(0.15, syn=True),
        c(0.15),  # the handshake's ACK
        c(0.16, 30),  # the wait ends here: the ACK above carried nothing
        c(0.17, 50),  # sent without anything from the server: pipelined, no wait
        s(0.31),  # the server's bare ACK: nothing to wait for
        c(0.40, 20),  # not at once on that ACK: written later, still no wait
        s(0.46, 80),
        c(0.46),  # a bare ACK of that answer...
        c(0.50, 10),  # ...then the next message: one wait
    ]
    assert count_round_trips(packets, RTT).waits == (0.16, 0.50)


def test_an_answer_in_pieces_is_one_wait() -> None:
    # The server's reply came in two segments a moment apart, and the client wrote after each.
    packets = [c(0.0, syn=True), s(0.15, syn=True), c(0.15, 10), s(0.30, 10), c(0.30, 10)]
    packets += [s(0.31, 10), c(0.31, 10), s(0.46, 10), c(0.46, 10)]
    assert count_round_trips(packets, RTT).waits == (0.15, 0.30, 0.46)


def test_connections_are_counted_by_the_clients_syns() -> None:
    first = [c(0.0, syn=True), s(0.15, syn=True), c(0.15, 10), s(0.30, 10), c(0.30, fin=True)]
    second = [Packet(p.time + 1, p.from_client, 1, p.payload, p.syn, p.fin) for p in first]
    got = count_round_trips(second + first, RTT)  # any order in: sorted by time
    assert (got.connections, got.round_trips) == (2, 4)


def test_parse_fields_reads_tsharks_columns() -> None:
    text = (
        "0.000000\t10.233.201.1\t0\t0\t1\t0\n"
        "0.150000\t10.233.201.3\t0\t0\tTrue\tFalse\n"
        "0.150100\t10.233.201.1\t0\t32\t0\t0\n"
        "0.200000\t10.233.201.1\t\t\t\t\n"  # not TCP (tshark leaves the fields empty)
        "\n"
    )
    got = parse_fields(text, CLIENT)
    assert got == [
        Packet(0.0, True, 0, 0, True, False),
        Packet(0.15, False, 0, 0, True, False),
        Packet(0.1501, True, 0, 32, False, False),
    ]


@pytest.mark.parametrize(
    "line",
    ["0.1\t10.233.201.1\t0\t0\t1", "zero\t10.233.201.1\t0\t0\t1\t0", "0.1\t10.2\t0\tlots\t0\t0"],
)
def test_a_line_tshark_would_not_write_is_an_error_naming_it(line: str) -> None:
    with pytest.raises(CaptureError, match="line 2"):
        parse_fields("0.0\t10.233.201.1\t0\t0\t1\t0\n" + line + "\n", CLIENT)


def test_an_rtt_of_zero_is_refused() -> None:
    with pytest.raises(CaptureError, match="rtt must be > 0"):
        count_round_trips([], 0.0)


def test_data_held_for_the_servers_ack_is_a_wait() -> None:
    # Nagle on the client: the second message leaves only when the first one's ACK arrives.
    packets = [c(0.0, syn=True), s(0.15, syn=True), c(0.15, 16), s(0.30), c(0.301, 44)]
    assert count_round_trips(packets, RTT).waits == (0.15, 0.301)


def test_server_data_held_for_our_ack_is_a_wait_from_that_ack() -> None:
    # Nagle on the server: its second message waited for our (delayed) ACK of the first.
    packets = [c(0.0, syn=True), s(0.15, syn=True), c(0.15, 10), s(0.30, 68), c(0.34)]
    packets += [s(0.49, 860), c(0.49, 100)]
    assert count_round_trips(packets, RTT).waits == (0.15, 0.34, 0.49)


def test_a_server_streaming_output_is_not_held() -> None:
    # Output in pieces, each ACKed: a piece one RTT after an ACK is no wait when others came.
    packets = [c(0.0, syn=True), s(0.15, syn=True), c(0.15, 10)]
    for n in range(10):
        packets += [s(0.30 + n * 0.05, 100), c(0.30 + n * 0.05 + 0.001)]
    packets += [c(0.80, 52)]
    assert count_round_trips(packets, RTT).waits == (0.15, 0.80)


def test_recorded_ssh_true_is_ten_waits() -> None:
    """One `ssh -F /dev/null root@host true` (OpenSSH 9.2 client and server) through the delay
    line at 150 ms, captured on the client's side (tshark -T fields, bench.capture.FIELDS).

    Read by hand: the SYN-ACK, the server's banner, its KEXINIT, its ECDH reply, the ACK our
    SERVICE_REQUEST was held for (Nagle, 1.011 s), SERVICE_ACCEPT, the answers to `none`, to the
    key query and to the signed request, and the channel's answer."""
    got = count_round_trips(parse_fields(RECORDED.read_text(), CLIENT), RTT)
    assert got.connections == 1
    assert [round(t, 3) for t in got.waits] == [
        0.154, 0.353, 0.674, 0.881, 1.011, 1.163, 1.316, 1.467, 1.620, 1.922
    ]  # fmt: skip


def test_the_table_marks_each_goal_and_sits_beside_the_slope() -> None:
    from bench.capture import Count
    from bench.capture_run import Results, beside_the_slope, table

    def n(k: int) -> Count:
        return Count(k, 1, (), 0, 0, 0.0)

    results = Results()
    for step, k in {"ssh true": 11, "naive fresh": 9, "naive noop": 9}.items():
        results.counts[("systemd", "ed25519", step)] = n(k)
    for step, k in {"fresh": 15, "noop": 6, "check": 7}.items():
        results.counts[("systemd", "ed25519", step)] = n(k)
    lines = table(results, ["systemd"], ["ed25519"])
    assert "| systemd | ed25519 | 11 | 9 | 9 | 15 | 6 | 7 |" in lines
    assert "- MISS: systemd ed25519 fresh ≤ 14: 15" in lines
    assert "- PASS: systemd ed25519 noop ≤ 6: 6" in lines
    assert "- MISS: systemd ed25519 check ≤ 6: 7" in lines
    latency = "".join(
        f"| hardened-ecs | {step} | 1.00 s | 2.00 s | 3.00 s | {k} | 0.50 s |\n"
        for step, k in (("fresh", "14.0"), ("noop", "6.0"), ("check", "6.0"))
    )
    (line, _) = beside_the_slope(latency, lines)
    assert "fresh 15 vs 14.0, noop 6 vs 6.0, check 7 vs 6.0" in line
    assert beside_the_slope("no latency section", lines) == []


def test_each_wait_goes_to_the_step_the_client_waited_in() -> None:
    """A wait ending at a step's first send answers the step before; one a round trip or more
    into a step is that step's; the clocks meet at the first SYN."""
    from bench.capture import Count, per_step

    # The first SYN at 10.0 on the capture's clock, the login's start at 0.5 on the engine's.
    waits = (10.15, 10.30, 10.46, 10.62, 10.78)
    count = Count(len(waits), 1, waits, 0, 0, 1.0, first_syn=10.0)
    timeline = [("login", 0.5), ("facts", 0.95), ("commit", 1.12)]
    assert per_step(count, timeline, 0.15) == [("login", 3), ("facts", 1), ("commit", 1)]
    assert per_step(count, [], 0.15) == []


def test_the_goals_say_how_many_hold_and_the_fresh_apply_goes_by_step() -> None:
    from bench.capture import Count
    from bench.capture_run import Results, table

    results = Results()
    for step, k in {"fresh": 13, "noop": 5, "check": 7}.items():
        results.counts[("chroot", "rsa-3072", step)] = Count(k, 1, (), 0, 0, 0.0)
    results.fresh_steps[("chroot", "rsa-3072")] = [("login as root", 4), ("commit", 1)]
    lines = table(results, ["chroot"], ["rsa-3072"])
    assert "Goals (issue 22, counted from the captures): 2 of 3 hold" in lines
    assert "| fresh apply, step | chroot rsa-3072 |" in lines
    assert "| login as root | 4 |" in lines and "| commit | 1 |" in lines
