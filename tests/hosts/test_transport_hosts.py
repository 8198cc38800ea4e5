"""The transport's round-trip savings keep every command's meaning (issue 12), on a real sshd:
through sudo the script still arrives byte for byte in the here-document, with stdout, stderr
and the exit status apart; every key type logs in, RSA also where rsa-sha2-512 is refused
(issue 22), and the first command's channel, asked for right behind the login request, is
the one it runs on (issue 22). The rest (inline and on stdin, channels opened ahead, a dropped
connection, bounded output) needs no real host: tests/unit/test_transport_loopback.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hardening.model.errors import ConnectError
from hardening.ssh.stats import Stats
from hardening.ssh.transport import Result, connect
from tests.conftest import ClientKeys, HostFactory
from tests.helpers.chroot_observe import loopback_target
from tests.helpers.transport_cases import TRICKY, TRICKY_OUT, loopback_connection
from tests.testhosts.chroot import TestHost


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


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_every_key_type_logs_in_and_runs_a_command(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path, kind: str
) -> None:
    """Each key type through connect() (issue 22: RSA's request goes early too, to an OpenSSH
    that says 7.2 or later), once; and a key the server refuses is refused."""
    host = host_factory()
    key = getattr(client_keys, kind)
    with loopback_connection(host.port, "root", key, tmp_path) as conn:
        assert conn.run("echo ok").stdout == "ok\n"
        assert conn.stats.connections == 1
    assert _logged(host, "Accepted publickey for root").count("Accepted publickey for root") == 1
    with pytest.raises(ConnectError, match="refused the key"):
        connect(
            loopback_target(host.port, "root", client_keys.stranger, tmp_path),
            wait=2,
            stats=Stats(),
        )


def test_an_rsa_key_logs_in_where_rsa_sha2_512_is_refused(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    """The early request signs with rsa-sha2-512; this server refuses it, and the login falls
    back to rsa-sha2-256 on the same connection."""
    host = host_factory()
    conf = "/etc/ssh/sshd_config.d/05-no-rsa-sha2-512.conf"
    host.run(f"echo 'PubkeyAcceptedAlgorithms -rsa-sha2-512' > {conf}", check=True)
    host.reload()
    with loopback_connection(host.port, "root", client_keys.rsa, tmp_path) as conn:
        # The channel asked for behind the refused request was dropped by the server: unused.
        assert conn._spare is None
        assert conn.run("echo ok").stdout == "ok\n"
        assert conn.stats.connections == 1
    log = _logged(host, "Accepted publickey for root")
    assert "rsa-sha2-512 not in PubkeyAcceptedAlgorithms" in log
    assert log.count("Accepted publickey for root") == 1


def _logged(host: TestHost, text: str, limit: float = 30) -> str:
    """The host's syslog once it holds `text` (its sink reads the socket in a thread of its
    own, so a line may come a moment after the login it tells of)."""
    deadline = time.monotonic() + limit
    while text not in (log := host.syslog()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return log


@pytest.mark.parametrize("suite", ["bullseye", "bookworm", "trixie"])  # OpenSSH 8.4, 9.2, 10.0
@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_the_first_channel_is_asked_for_behind_the_login_and_runs_the_first_command(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path, suite: str, kind: str
) -> None:
    """sshd reads the channel open that came behind the login request once the login
    succeeded: the first command runs on that channel, and the next ones as before."""
    host = host_factory(suite)
    with loopback_connection(host.port, "root", getattr(client_keys, kind), tmp_path) as conn:
        early = conn._spare
        assert early is not None
        chan = early.take(10)
        assert chan is not None and not chan.closed  # sshd confirmed it
        conn._spare = early  # give it back: the first command takes it
        assert conn.run("echo one").stdout == "one\n"
        assert chan.closed  # the command ran on it, and closed it
        assert conn.run("echo two; exit 3") == Result("two\n", "", 3)
