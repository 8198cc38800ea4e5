"""The transport's round-trip savings keep every command's meaning (issue 12), on a real sshd:
the script inside the exec request (a here-document) arrives byte for byte, also when it holds
text like our delimiter or is too large for the request (then it goes on stdin); channels
opened ahead serve the next command; stdout, stderr and the exit status stay apart; sudo too.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hardening.errors import ConnectError
from hardening.transport import MAX_INLINE, Connection, Stats, connect
from tests.conftest import ClientKeys, HostFactory
from tests.helpers.chroot_observe import loopback_target
from tests.testhosts.chroot import TestHost

# Quoting, expansions and a line that looks like a here-document delimiter: all must arrive as
# written, none expanded by the login shell.
TRICKY = (
    "printf '%s\\n' 'a $HOME `id` \\\\ \"q\"'\n"
    "cat <<'EOF'\nHARDENED_ECS_EOF_0000000000000000\n$(echo not-run)\nEOF\n"
    "echo to-stderr >&2\n"
    "exit 7\n"
)
TRICKY_OUT = 'a $HOME `id` \\\\ "q"\nHARDENED_ECS_EOF_0000000000000000\n$(echo not-run)\n'


# The nearest sshd above this shell is the session's own: killed, the connection ends with no
# exit status (the wait after it is never reached).
KILL_OWN_SESSION = """\
p=$PPID
while [ "$(cat /proc/$p/comm)" != sshd ]; do p=$(cut -d' ' -f4 /proc/$p/stat); done
kill -9 "$p"
sleep 10
"""


def _connect(port: int, user: str, key: Path, tmp_path: Path) -> Connection:
    return connect(loopback_target(port, user, key, tmp_path), wait=20, stats=Stats())


def test_scripts_arrive_exactly_inline_and_on_stdin(
    host_factory: HostFactory, client_key: Path, tmp_path: Path
) -> None:
    host = host_factory()
    with _connect(host.port, "root", client_key, tmp_path) as conn:
        assert conn.rtt > 0
        for _ in range(3):  # the second and third use channels opened ahead
            result = conn.run(TRICKY)
            assert (result.stdout, result.stderr, result.status) == (TRICKY_OUT, "to-stderr\n", 7)
        big = "x" * (MAX_INLINE + 1000)  # too large for the request: sent on stdin instead
        result = conn.run(f": '{big}'\necho done\n")
        assert (result.stdout, result.status) == ("done\n", 0)
        assert conn.stats.commands == 4 and conn.stats.connections == 1


def test_sudo_gets_the_script_through_the_here_document(
    host_factory: HostFactory, client_key: Path, tmp_path: Path
) -> None:
    host = host_factory()
    host.add_user("ecs-user", authorized_keys=[client_key], sudo_nopasswd=True)
    with _connect(host.port, "ecs-user", client_key, tmp_path) as conn:
        result = conn.run(TRICKY)
        assert (result.stdout, result.stderr, result.status) == (TRICKY_OUT, "to-stderr\n", 7)
        assert conn.run("id -u\n").stdout == "0\n"
        assert conn.run("id -u\n", as_root=False).stdout != "0\n"


def test_a_connection_that_drops_mid_command_is_a_lost_connection_not_an_exit_status(
    host_factory: HostFactory, client_key: Path, tmp_path: Path
) -> None:
    """The command kills its own sshd session process: the connection ends with no exit status
    (paramiko's -1). That is a lost connection, which the engine recovers from, never a
    command that "exited -1"."""
    host = host_factory()
    with _connect(host.port, "root", client_key, tmp_path) as conn:
        with pytest.raises(ConnectError, match=r"lost the connection to root@127\.0\.0\.1"):
            conn.run(KILL_OWN_SESSION)
        assert not conn.alive


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_every_key_type_logs_in_and_runs_a_command(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path, kind: str
) -> None:
    """Each key type through connect() (issue 22: RSA's request goes early too, to an OpenSSH
    that says 7.2 or later), once; and a key the server refuses is refused."""
    host = host_factory()
    with _connect(host.port, "root", getattr(client_keys, kind), tmp_path) as conn:
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
    with _connect(host.port, "root", client_keys.rsa, tmp_path) as conn:
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
