"""connect() logging in, against the in-process SSH server: a refused user falls back to the
other at once, both refused is named after the wait, a server without public keys is named.
What the CLI makes of these on a real sshd: tests/hosts/test_faults_no_entry.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hardening.model.errors import ConnectError
from hardening.ssh.stats import Stats
from hardening.ssh.transport import connect
from tests.helpers.chroot_observe import loopback_target
from tests.unit.conftest import ServerFactory


def test_a_refused_user_falls_back_to_the_other_at_once(
    loopback_server: ServerFactory, client_key: Path, tmp_path: Path
) -> None:
    """After a first apply root is closed: the same command must still get in, as the admin."""
    server = loopback_server(users=frozenset({"ops"}))
    target = loopback_target(server.port, "root", client_key, tmp_path)
    stats = Stats()
    with connect(target, wait=20, stats=stats, fallback_user="ops") as conn:
        assert conn.target.user == "ops"
        assert conn.run("echo in\n", as_root=False).stdout == "in\n"
    assert [(a.user, a.accepted) for a in server.auth_attempts] == [("root", False), ("ops", True)]
    assert stats.connections == 2
    assert [step for step, _, _ in stats.timeline][:1] == ["login as ops"]


def test_a_key_refused_for_both_users_is_named_after_the_wait(
    loopback_server: ServerFactory, client_key: Path, tmp_path: Path
) -> None:
    server = loopback_server(users=frozenset({"nobody"}))
    target = loopback_target(server.port, "root", client_key, tmp_path)
    want = (
        f"cannot reach root@127.0.0.1:{server.port} within 1s (--wait): "
        "the server refused the key for root and for ops"
    )
    # ... and how often it tried, in how long (the wait honoured).
    tried = r" \(\d+ attempts in [\d.]+s\)"
    with pytest.raises(ConnectError, match=f"^{re.escape(want)}{tried}$"):
        connect(target, wait=1, stats=Stats(), fallback_user="ops")
    assert {a.user for a in server.auth_attempts} == {"root", "ops"}
    assert not any(a.accepted for a in server.auth_attempts)


def test_a_server_without_public_key_logins_is_named_without_retrying(
    loopback_server: ServerFactory, client_key: Path, tmp_path: Path
) -> None:
    server = loopback_server(auths="password,keyboard-interactive")
    target = loopback_target(server.port, "root", client_key, tmp_path)
    want = (
        f"root@127.0.0.1:{server.port} does not accept public keys "
        "(it offers password, keyboard-interactive)"
    )
    with pytest.raises(ConnectError, match=f"^{re.escape(want)}$"):
        connect(target, wait=20, stats=Stats(), fallback_user="ops")
    assert len(server.transports) == 1  # no retry, no second user
