"""Where the fresh login goes after a commit (ops/port_move.py): the candidate's one port when
it differs from the live one, else the port we came in on; and why a new port failed."""

from __future__ import annotations

import socket

import pytest

from hardening.ops.port_move import port_after, why_not


@pytest.mark.parametrize(
    ("before", "candidate", "after"),
    [
        ("22", "2222", 2222),  # --set Port=2222
        ("2222", "22", 22),  # Port no longer managed: the host's own line back
        ("22", "22", 40022),  # no move: where we came in (a ListenAddress may pin it)
        ("22 2222", "2222", 2222),  # two ports left to one
        ("22", "22 2222", 40022),  # several: where we came in
        ("22", "", 40022),  # not printed
    ],
)
def test_port_after(before: str, candidate: str, after: int) -> None:
    assert port_after({"port": before}, {"port": candidate}, 40022) == after


def test_why_not_names_a_port_nothing_listens_on() -> None:
    with socket.socket() as s:  # a port that was just free, and is closed again
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert why_not("127.0.0.1", port, 3.0) == (
        f"nothing listens on {port} after the reload: sshd could not bind it?"
    )
