"""The transport against the in-process SSH server (ssh_server.py): scripts arrive byte for
byte inline and on stdin, channels opened ahead serve the next command, stdout, stderr and the
exit status stay apart (issue 12); output is bounded in size and time, and a dropped
connection is a lost connection, never an exit status. Real sshd: tests/hosts/."""

from __future__ import annotations

import re
from pathlib import Path

import paramiko
import pytest

from hardening.model.errors import ConnectError
from hardening.ssh.channel import MAX_INLINE, MAX_OUTPUT, HostMisbehaved
from tests.helpers.transport_cases import TRICKY, TRICKY_OUT, loopback_connection
from tests.unit.conftest import ServerFactory
from tests.unit.ssh_server import LoopbackServer, read_to_eof


def test_scripts_arrive_exactly_inline_and_on_stdin(
    loopback_server: ServerFactory, client_key: Path, tmp_path: Path
) -> None:
    server = loopback_server()
    with loopback_connection(server.port, "root", client_key, tmp_path) as conn:
        assert conn.rtt > 0
        for _ in range(3):  # the second and third use channels opened ahead
            result = conn.run(TRICKY)
            assert (result.stdout, result.stderr, result.status) == (TRICKY_OUT, "to-stderr\n", 7)
        big = "x" * (MAX_INLINE + 1000)  # too large for the request: sent on stdin instead
        result = conn.run(f": '{big}'\necho done\n")
        assert (result.stdout, result.status) == ("done\n", 0)
        assert conn.stats.commands == 4 and conn.stats.connections == 1
    # The first three rode in the exec request, the large one on stdin.
    assert [len(c) > len("sh -s") for c in server.commands] == [True, True, True, False]


def _drop(server: LoopbackServer, chan: paramiko.Channel, command: str) -> bool:
    def drop() -> None:
        read_to_eof(chan)
        server.drop_connections()

    server.spawn(drop)
    return True


def test_a_connection_that_drops_mid_command_is_a_lost_connection_not_an_exit_status(
    loopback_server: ServerFactory, client_key: Path, tmp_path: Path
) -> None:
    """The server ends the connection while the command runs: no exit status (paramiko's -1).
    That is a lost connection, which the engine recovers from, never a command that "exited
    -1". (A real sshd whose session process is killed: the same, see tests/hosts/.)"""
    server = loopback_server(on_exec=_drop)
    with loopback_connection(server.port, "root", client_key, tmp_path) as conn:
        with pytest.raises(ConnectError, match=r"lost the connection to root@127\.0\.0\.1"):
            conn.run("sleep 10\n")
        assert not conn.alive


# --- bounded in size and time ------------------------------------------------------------


def test_a_flood_is_cut_off_past_the_output_limit(
    loopback_server: ServerFactory, client_key: Path, tmp_path: Path
) -> None:
    server = loopback_server()
    flood = f"head -c {MAX_OUTPUT + 4 * 65536} /dev/zero | tr '\\0' x\n"
    with (
        loopback_connection(server.port, "root", client_key, tmp_path) as conn,
        pytest.raises(HostMisbehaved, match=r"sent more than 16 MiB for one command"),
    ):
        conn.run(flood)
    # Not asked here: that the connection serves the next command. The in-process server's
    # pumps (Python threads) lost their socket under a loaded machine's flood now and then;
    # a real sshd keeps it, and tests/hosts/test_hostile_hosts.py floods one.


def test_a_trickle_is_given_up_on_after_the_total_command_timeout(
    loopback_server: ServerFactory, client_key: Path, tmp_path: Path
) -> None:
    server = loopback_server()
    with loopback_connection(server.port, "root", client_key, tmp_path) as conn:
        with pytest.raises(
            HostMisbehaved,
            match=re.escape(
                f"a command on root@127.0.0.1:{server.port} did not finish within 1s in total"
            ),
        ):
            conn.run("while printf x; do sleep 0.2; done\n", timeout=1)
        assert conn.run("echo still-here\n").stdout == "still-here\n"  # only that command ended


def _eof_without_status(server: LoopbackServer, chan: paramiko.Channel, command: str) -> bool:
    def eof() -> None:
        read_to_eof(chan)
        chan.shutdown_write()  # EOF on both streams, the channel left open

    server.spawn(eof)
    return True


def test_no_exit_status_within_the_timeout_is_a_misbehaving_host(
    loopback_server: ServerFactory, client_key: Path, tmp_path: Path
) -> None:
    server = loopback_server(on_exec=_eof_without_status)
    with loopback_connection(server.port, "root", client_key, tmp_path) as conn:
        with pytest.raises(HostMisbehaved, match=r"sent no exit status within 1s in total"):
            conn.run("true\n", timeout=1)
        assert conn.alive
