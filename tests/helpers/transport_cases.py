"""What the transport's tests share, on the in-process server and on a real sshd with sudo: a
script that must reach the remote shell byte for byte, and a connection to 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from hardening.ssh.stats import Stats
from hardening.ssh.transport import Connection, connect
from tests.helpers.chroot_observe import loopback_target

# Quoting, expansions and a line that looks like a here-document delimiter: all must arrive as
# written, none expanded by the login shell.
TRICKY = (
    "printf '%s\\n' 'a $HOME `id` \\\\ \"q\"'\n"
    "cat <<'EOF'\nHARDENED_ECS_EOF_0000000000000000\n$(echo not-run)\nEOF\n"
    "echo to-stderr >&2\n"
    "exit 7\n"
)
TRICKY_OUT = 'a $HOME `id` \\\\ "q"\nHARDENED_ECS_EOF_0000000000000000\n$(echo not-run)\n'


def loopback_connection(port: int, user: str, key: Path, tmp_path: Path) -> Connection:
    """Logged in on 127.0.0.1:`port`, the host key recorded in tmp_path's known_hosts."""
    return connect(loopback_target(port, user, key, tmp_path), wait=20, stats=Stats())
