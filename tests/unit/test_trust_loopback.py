"""Host key trust (hardening/trust.py) as connect() applies it, against the in-process SSH
server: a pinned fingerprint, known_hosts recorded only when asked to, a changed key never
accepted, a host known by another key type never new. The server sees no authentication
when the key is refused. The CLI's side of it on a real sshd: tests/hosts/."""

from __future__ import annotations

import re
from pathlib import Path

import paramiko
import pytest

from hardening.model.errors import HostKeyError
from hardening.ssh.keys import fingerprint, load_private_key
from hardening.ssh.stats import Stats
from hardening.ssh.transport import Target, connect
from hardening.ssh.trust import HostKeyPolicy, KnownHostsCheck
from tests.conftest import ClientKeys
from tests.testhosts.chroot import LOOPBACK
from tests.unit.conftest import ServerFactory
from tests.unit.ssh_server import LoopbackServer, new_ed25519_key


def _target(server: LoopbackServer, key: Path, policy: HostKeyPolicy) -> Target:
    return Target(LOOPBACK, server.port, "root", load_private_key(path=str(key)), policy)


def _connect(server: LoopbackServer, key: Path, policy: HostKeyPolicy) -> str:
    """Log in and out; the fingerprint of the host key the connection saw."""
    with connect(_target(server, key, policy), wait=20, stats=Stats()) as conn:
        return conn.host_key_fingerprint


def _entry(server: LoopbackServer, key: paramiko.PKey) -> str:
    return f"[{LOOPBACK}]:{server.port} {key.get_name()} {key.get_base64()}\n"


def test_a_pinned_fingerprint_needs_no_known_hosts_and_writes_none(
    loopback_server: ServerFactory, client_key: Path, tmp_path: Path
) -> None:
    host_key = new_ed25519_key()
    server = loopback_server(host_keys=[host_key])
    known = tmp_path / "known_hosts"
    pinned = HostKeyPolicy(known_hosts=known, pinned_fingerprint=fingerprint(host_key))
    assert _connect(server, client_key, pinned) == fingerprint(host_key)
    assert not known.exists()


def test_a_wrong_pinned_fingerprint_is_refused_before_authentication(
    loopback_server: ServerFactory, client_key: Path, tmp_path: Path
) -> None:
    host_key = new_ed25519_key()
    server = loopback_server(host_keys=[host_key])
    wrong = "SHA256:" + "A" * 43
    policy = HostKeyPolicy(known_hosts=tmp_path / "known_hosts", pinned_fingerprint=wrong)
    with pytest.raises(HostKeyError) as refused:
        _connect(server, client_key, policy)
    assert fingerprint(host_key) in str(refused.value) and wrong in str(refused.value)
    assert server.auth_attempts == []


def test_an_unknown_host_is_refused_unless_asked_to_record_it(
    loopback_server: ServerFactory, client_key: Path, tmp_path: Path
) -> None:
    host_key = new_ed25519_key()
    server = loopback_server(host_keys=[host_key])
    known = tmp_path / "ssh" / "known_hosts"
    with pytest.raises(
        HostKeyError, match=re.escape(f"--host-key-fingerprint {fingerprint(host_key)}")
    ):
        _connect(server, client_key, HostKeyPolicy(known_hosts=known))
    assert not known.exists()
    assert server.auth_attempts == []

    _connect(server, client_key, HostKeyPolicy(known_hosts=known, accept_new=True))
    assert known.read_text() == _entry(server, host_key)
    assert known.stat().st_mode & 0o777 == 0o600
    # Later connections without the flag use the recorded key, and leave the file alone.
    assert _connect(server, client_key, HostKeyPolicy(known_hosts=known)) == fingerprint(host_key)
    assert known.read_text() == _entry(server, host_key)


@pytest.mark.parametrize("accept_new", [False, True])
def test_a_changed_key_is_never_accepted(
    loopback_server: ServerFactory, client_key: Path, tmp_path: Path, accept_new: bool
) -> None:
    """A different server at a recorded address: --accept-new-host-key never accepts it."""
    server = loopback_server()
    known = tmp_path / "known_hosts"
    entry = _entry(server, new_ed25519_key())
    known.write_text(entry)
    with pytest.raises(HostKeyError, match=re.escape(f"HOST KEY CHANGED for [{LOOPBACK}]:")):
        _connect(server, client_key, HostKeyPolicy(known_hosts=known, accept_new=accept_new))
    assert known.read_text() == entry
    assert server.auth_attempts == []


def test_a_host_known_by_another_key_type_is_never_treated_as_new(
    loopback_server: ServerFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    server = loopback_server()
    ecdsa = load_private_key(path=str(client_keys.ecdsa))  # any ecdsa key: the recorded one
    known = tmp_path / "known_hosts"
    entry = _entry(server, ecdsa)
    known.write_text(entry)
    policy = HostKeyPolicy(known_hosts=known, accept_new=True)
    with pytest.raises(HostKeyError) as refused:
        _connect(server, client_keys.ed25519, policy)
    assert "with a ecdsa-sha2-nistp256 key only" in str(refused.value)
    assert "--host-key-fingerprint SHA256:" in str(refused.value)
    assert known.read_text() == entry  # nothing recorded next to it
    assert server.auth_attempts == []


def test_the_known_key_type_is_asked_for_first(
    loopback_server: ServerFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    """A server with ed25519 and RSA host keys, known by its RSA key: the connection asks for
    RSA and checks it, instead of being offered ed25519 and calling that a changed key."""
    rsa = load_private_key(path=str(client_keys.rsa))  # any RSA key, as this server's
    server = loopback_server(host_keys=[new_ed25519_key(), rsa])
    known = tmp_path / "known_hosts"
    known.write_text(_entry(server, rsa))
    assert _connect(server, client_keys.ed25519, HostKeyPolicy(known_hosts=known)) == fingerprint(
        rsa
    )


def test_a_known_host_that_stops_offering_its_known_key_is_a_changed_key(
    client_keys: ClientKeys, tmp_path: Path
) -> None:
    known = paramiko.Ed25519Key.from_private_key_file(str(client_keys.ed25519))
    presented = paramiko.RSAKey.from_private_key_file(str(client_keys.rsa))
    path = tmp_path / "known_hosts"
    path.write_text(f"[192.0.2.7]:2222 {known.get_name()} {known.get_base64()}\n")
    trust = KnownHostsCheck(HostKeyPolicy(known_hosts=path, accept_new=True), "192.0.2.7", 2222)
    with pytest.raises(HostKeyError, match=re.escape("HOST KEY CHANGED for [192.0.2.7]:2222")):
        trust.verify(presented)
    assert path.read_text().count("\n") == 1
