"""The transport's round-trip savings keep every command's meaning (issue 12), on a real sshd:
through sudo the script still arrives byte for byte in the here-document, with stdout, stderr
and the exit status apart. The rest (inline and on stdin, channels opened ahead, a dropped
connection, bounded output) needs no real host: tests/unit/test_transport_loopback.py.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import HostFactory
from tests.helpers.transport_cases import TRICKY, TRICKY_OUT, loopback_connection


def test_sudo_gets_the_script_through_the_here_document(
    host_factory: HostFactory, client_key: Path, tmp_path: Path
) -> None:
    host = host_factory()
    host.add_user("ecs-user", authorized_keys=[client_key], sudo_nopasswd=True)
    with loopback_connection(host.port, "ecs-user", client_key, tmp_path) as conn:
        result = conn.run(TRICKY)
        assert (result.stdout, result.stderr, result.status) == (TRICKY_OUT, "to-stderr\n", 7)
        assert conn.run("id -u\n").stdout == "0\n"
        assert conn.run("id -u\n", as_root=False).stdout != "0\n"
