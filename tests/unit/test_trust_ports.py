"""known_hosts names as OpenSSH writes them for a port (hardening/ssh/trust.py): `host` for 22,
`[host]:port` otherwise; an entry for one is never taken for the other; after a port move the
proven key is recorded under the new port's name."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from hardening.model.errors import HostKeyError
from hardening.ssh.trust import HostKeyPolicy, KnownHostsCheck
from tests.unit.ssh_server import new_ed25519_key

HOST = "192.0.2.10"


def _line(name: str, key: paramiko.PKey) -> str:
    return f"{name} {key.get_name()} {key.get_base64()}\n"


@pytest.mark.parametrize(("port", "name"), [(22, HOST), (2222, f"[{HOST}]:2222")])
def test_a_new_host_is_recorded_as_openssh_names_it(tmp_path: Path, port: int, name: str) -> None:
    known, key = tmp_path / "known_hosts", new_ed25519_key()
    KnownHostsCheck(HostKeyPolicy(known, accept_new=True), HOST, port).verify(key)
    assert known.read_text() == _line(name, key)


@pytest.mark.parametrize(("recorded", "port"), [(HOST, 2222), (f"[{HOST}]:2222", 22)])
def test_an_entry_for_one_port_is_not_taken_for_another(
    tmp_path: Path, recorded: str, port: int
) -> None:
    known, key = tmp_path / "known_hosts", new_ed25519_key()
    known.write_text(_line(recorded, key))
    check = KnownHostsCheck(HostKeyPolicy(known), HOST, port)
    assert check.known_types() == []
    with pytest.raises(HostKeyError, match="is unknown"):
        check.verify(key)


def test_a_moved_port_gets_the_proven_key_once(tmp_path: Path) -> None:
    known, key = tmp_path / "known_hosts", new_ed25519_key()
    known.write_text(_line(HOST, key))
    policy = HostKeyPolicy(known)
    assert KnownHostsCheck(policy, HOST, 2222).remember_moved(key) is None
    assert KnownHostsCheck(policy, HOST, 2222).remember_moved(key) is None  # already there
    assert known.read_text() == _line(HOST, key) + _line(f"[{HOST}]:2222", key)
    KnownHostsCheck(policy, HOST, 2222).verify(key)  # the next run trusts it there


def test_a_moved_port_never_replaces_another_key_and_says_so(tmp_path: Path) -> None:
    known, key, old = tmp_path / "known_hosts", new_ed25519_key(), new_ed25519_key()
    known.write_text(_line(f"[{HOST}]:2222", old))
    note = KnownHostsCheck(HostKeyPolicy(known), HOST, 2222).remember_moved(key)
    assert note is not None and f"ssh-keygen -R '[{HOST}]:2222'" in note
    assert known.read_text() == _line(f"[{HOST}]:2222", old)


def test_a_pinned_key_writes_no_known_hosts(tmp_path: Path) -> None:
    known, key = tmp_path / "known_hosts", new_ed25519_key()
    policy = HostKeyPolicy(known, pinned_fingerprint="SHA256:" + "A" * 43)
    assert KnownHostsCheck(policy, HOST, 2222).remember_moved(key) is None
    assert not known.exists()
