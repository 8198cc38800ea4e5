"""rotation.rotate_host_key on real OpenSSH test hosts (chroots, tests/testhosts/chroot.py): the
fresh key is what the host presents afterwards and nothing of the old one is left; on a host
that is not compliant nothing happens; and when the fresh login cannot meet the new key (this
sshd reads its host key from elsewhere) the host is back to its old key file, as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import paramiko

from hardening.change.rekey import HOST_KEY_PATH, openssh_fingerprint
from hardening.model.desired import Request
from hardening.ops import engine, rotation
from hardening.ssh.keys import load_private_key
from hardening.ssh.transport import Target
from hardening.ssh.trust import HostKeyPolicy
from tests.conftest import HostFactory
from tests.helpers.fault_proofs import poll
from tests.testhosts.chroot import TestHost, server_host_key, try_login

ADMIN = "ops"
REQUEST = Request(admin_user=ADMIN)


def _target(host: TestHost, user: str, key: Path, pin: str) -> Target:
    policy = HostKeyPolicy(pinned_fingerprint=pin)
    return Target("127.0.0.1", host.port, user, load_private_key(path=str(key)), policy)


def _presented(host: TestHost, key_type: str = "ssh-ed25519") -> str:
    return openssh_fingerprint(server_host_key(host.port, key_type))


def _serves_only_rsa(host: TestHost) -> bool:
    try:
        server_host_key(host.port, "ssh-ed25519")
    except (OSError, paramiko.SSHException):
        try:
            server_host_key(host.port, "rsa-sha2-512")
        except (OSError, paramiko.SSHException):
            return False
        return True
    return False


def _key_files(host: TestHost) -> dict[str, str]:
    """Every file in /etc/ssh whose name holds a host key, with its digest."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in host.path("/etc/ssh").iterdir()
        if "ssh_host_" in p.name
    }


def _applied(host: TestHost, key: Path, pin: str) -> None:
    report = engine.apply(_target(host, "root", key, pin), REQUEST, engine.Options(wait=30))
    assert report.exit_code == 0, report.error


def test_rotation_replaces_the_key_the_host_presents(
    host_factory: HostFactory, client_key: Path
) -> None:
    host = host_factory("bookworm")
    old = _presented(host)
    _applied(host, client_key, old)
    report = rotation.rotate_host_key(_target(host, ADMIN, client_key, old), REQUEST)
    assert report.exit_code == 0, report.error
    new = report.host_key_fingerprint
    assert new and new != old and _presented(host) == new
    assert report.host_public_key and openssh_fingerprint(report.host_public_key) == new
    assert openssh_fingerprint(host.path(f"{HOST_KEY_PATH}.pub").read_text()) == new
    # No backup, candidate or lock left; the old key opens nothing; the new one works.
    assert not [n for n in _key_files(host) if "hardened-ecs" in n], _key_files(host)
    assert not host.path("/var/lib/hardened-ecs/lock").exists()
    stale = engine.check(_target(host, ADMIN, client_key, old), REQUEST, engine.Options(wait=5))
    assert stale.exit_code == 3, stale.as_dict()
    fresh = engine.check(_target(host, ADMIN, client_key, new), REQUEST)
    assert fresh.exit_code == 0, fresh.as_dict()
    assert try_login(host.port, ADMIN, client_key)


def test_rotation_on_a_host_that_is_not_compliant_changes_nothing(
    host_factory: HostFactory, client_key: Path
) -> None:
    host = host_factory("bookworm")
    before = _key_files(host)
    pin = _presented(host)
    report = rotation.rotate_host_key(_target(host, "root", client_key, pin), REQUEST)
    assert report.exit_code == 4 and "apply first" in (report.error or ""), report.as_dict()
    assert _key_files(host) == before and _presented(host) == pin


def test_a_new_key_the_fresh_login_does_not_meet_is_rolled_back(
    host_factory: HostFactory, client_key: Path
) -> None:
    host = host_factory("bookworm")
    # This sshd serves only its RSA key: the new ed25519 file is never presented.
    host.run("printf 'HostKey /etc/ssh/ssh_host_rsa_key\\n' > /etc/ssh/sshd_config.d/10-rsa.conf")
    host.run("kill -HUP $(cat /run/sshd.pid)")
    poll("sshd back with only its RSA key", lambda: _serves_only_rsa(host), timeout=30)
    pin = _presented(host, "rsa-sha2-512")
    _applied(host, client_key, pin)
    before = _key_files(host)
    report = rotation.rotate_host_key(
        _target(host, ADMIN, client_key, pin), REQUEST, engine.Options(verify_wait=5)
    )
    assert report.exit_code == 4 and report.rolled_back, report.as_dict()
    assert "fresh-connection check" in (report.error or ""), report.error
    assert _key_files(host) == before
    # The rollback restarts sshd: it is back with the old key (not instantly).
    poll("sshd back after the rollback", lambda: _serves_only_rsa(host), timeout=30)
    assert _presented(host, "rsa-sha2-512") == pin
    assert not host.path("/var/lib/hardened-ecs/lock").exists()
