"""Public-key authentication one round trip shorter (hardening/ssh/userauth.py), against a real
sshd: the signed request goes before the server accepted the service, and OpenSSH still logs it
in (it handles the request once the service is accepted, auth2.c); RSA keys go early too to an
OpenSSH that says 7.2 or later, and fall back to rsa-sha2-256 where rsa-sha2-512 is refused.
The rest (an unknown key is refused, a server that is not OpenSSH) needs no real host:
tests/unit/test_userauth_loopback.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hardening.ssh import userauth
from hardening.ssh.keys import load_private_key
from tests.conftest import ClientKeys, HostFactory
from tests.helpers.userauth_probe import USERAUTH_REQUEST, assert_early_and_once, probe_login


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_the_request_goes_before_the_service_is_accepted_and_logs_in(
    host_factory: HostFactory, client_keys: ClientKeys, kind: str
) -> None:
    host = host_factory()
    key = load_private_key(path=str(getattr(client_keys, kind)))
    assert_early_and_once(probe_login(host.port, key))


@pytest.mark.parametrize("suite", ["bullseye", "trixie"])  # OpenSSH 8.4, 10.0 (bookworm above)
def test_an_rsa_keys_early_request_logs_in_to_other_openssh_releases(
    host_factory: HostFactory, client_keys: ClientKeys, suite: str
) -> None:
    host = host_factory(suite)
    login = probe_login(host.port, load_private_key(path=str(client_keys.rsa)))
    assert_early_and_once(login)
    assert login.algorithm == "rsa-sha2-512"


def test_an_rsa_key_waits_for_the_accept_unless_the_server_says_openssh_7_2_and_logs_in(
    host_factory: HostFactory, client_keys: ClientKeys
) -> None:
    """RSA's signature algorithm follows the server's EXT_INFO: paramiko's own order, unless
    the version string promises rsa-sha2-512 (OpenSSH 7.2+)."""
    host = host_factory()
    key = load_private_key(path=str(client_keys.rsa))
    assert userauth.pipelines(key, host.banner.strip())  # the test host's own OpenSSH
    for version in ("SSH-2.0-OpenSSH_7.1p2", "SSH-2.0-dropbear_2022.83", ""):
        assert not userauth.pipelines(key, version), version
    login = probe_login(host.port, key, server_says="SSH-2.0-OpenSSH_7.1p2")
    # paramiko's own login: no early request (the probe sees no accept of ours), one request.
    assert login.authenticated and login.sent.count(USERAUTH_REQUEST) == 1
    assert login.accepted_after == []


def test_a_server_that_refuses_rsa_sha2_512_still_logs_an_rsa_key_in(
    host_factory: HostFactory, client_keys: ClientKeys
) -> None:
    """The early request signs with rsa-sha2-512; a server that refuses it (its
    PubkeyAcceptedAlgorithms) refuses the attempt, and the request is made again with
    rsa-sha2-256 (its server-sig-algs list both: it cannot tell us)."""
    host = host_factory()
    conf = "/etc/ssh/sshd_config.d/05-no-rsa-sha2-512.conf"
    host.run(f"echo 'PubkeyAcceptedAlgorithms -rsa-sha2-512' > {conf}", check=True)
    host.reload()
    login = probe_login(host.port, load_private_key(path=str(client_keys.rsa)))
    assert login.authenticated and login.algorithm == "rsa-sha2-256"
    assert login.sent.count(USERAUTH_REQUEST) == 2  # the early one, refused, and the usual one


def test_an_rsa_key_the_server_does_not_know_is_refused(
    host_factory: HostFactory, tmp_path: Path
) -> None:
    """Refused with rsa-sha2-512 and again with rsa-sha2-256: still refused, no more asked."""
    host = host_factory()
    path = tmp_path / "id_rsa_stranger"
    subprocess.run(
        ["ssh-keygen", "-q", "-N", "", "-t", "rsa", "-b", "3072", "-f", str(path)], check=True
    )
    login = probe_login(host.port, load_private_key(path=str(path)))
    assert login.refused is not None and not login.authenticated
    assert login.sent.count(USERAUTH_REQUEST) == 2
