"""Public-key authentication one round trip shorter (hardening/userauth.py), against a real
sshd: the signed request goes before the server accepted the service, and still logs in."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import paramiko
import pytest

from hardening import userauth
from hardening.keys import load_private_key
from tests.conftest import ClientKeys, HostFactory
from tests.testhosts.chroot import LOOPBACK

SERVICE_ACCEPT, USERAUTH_REQUEST = 6, 50  # RFC 4253 / 4252 message numbers


def _handshake(port: int) -> tuple[paramiko.Transport, list[int]]:
    """A transport after its key exchange that records the type of every message it sends."""
    transport = paramiko.Transport(socket.create_connection((LOOPBACK, port), timeout=10))
    transport.start_client(timeout=10)
    sent: list[int] = []
    send = getattr(transport, "_send_message")  # noqa: B009 (private: not in the stubs)

    def record(m: paramiko.Message) -> None:
        sent.append(m.asbytes()[0])
        send(m)

    setattr(transport, "_send_message", record)  # noqa: B010
    return transport, sent


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
def test_the_request_goes_before_the_service_is_accepted_and_logs_in(
    host_factory: HostFactory, client_keys: ClientKeys, kind: str
) -> None:
    host = host_factory()
    key = load_private_key(path=str(getattr(client_keys, kind)))
    transport, sent = _handshake(host.port)
    accepted_after: list[int] = []
    handler_class = userauth._EarlyRequest
    parse = handler_class._parse_service_accept

    def seen(self: userauth._EarlyRequest, m: paramiko.Message) -> None:
        accepted_after.append(len(sent))  # how many messages had gone when the accept came
        parse(self, m)

    try:
        handler_class._parse_service_accept = seen  # type: ignore[method-assign]
        userauth.auth_publickey(transport, "root", key)
        assert transport.is_authenticated()
    finally:
        handler_class._parse_service_accept = parse  # type: ignore[method-assign]
        transport.close()
    assert sent.count(USERAUTH_REQUEST) == 1  # sent once: the accept is not answered again
    assert accepted_after and sent.index(USERAUTH_REQUEST) < accepted_after[0]


@pytest.mark.parametrize("suite", ["bullseye", "trixie"])  # OpenSSH 8.4, 10.0 (bookworm above)
def test_an_rsa_keys_early_request_logs_in_to_other_openssh_releases(
    host_factory: HostFactory, client_keys: ClientKeys, suite: str
) -> None:
    host = host_factory(suite)
    key = load_private_key(path=str(client_keys.rsa))
    transport, sent = _handshake(host.port)
    try:
        userauth.auth_publickey(transport, "root", key)
        assert transport.is_authenticated()
        assert getattr(transport, "_agreed_pubkey_algorithm", None) == "rsa-sha2-512"
    finally:
        transport.close()
    assert sent.count(USERAUTH_REQUEST) == 1


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
    transport, sent = _handshake(host.port)
    transport.remote_version = "SSH-2.0-OpenSSH_7.1p2"  # as an older server would say
    try:
        userauth.auth_publickey(transport, "root", key)
        assert transport.is_authenticated()
    finally:
        transport.close()
    assert sent.count(USERAUTH_REQUEST) == 1


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
    key = load_private_key(path=str(client_keys.rsa))
    transport, sent = _handshake(host.port)
    try:
        userauth.auth_publickey(transport, "root", key)
        assert transport.is_authenticated()
        assert getattr(transport, "_agreed_pubkey_algorithm", None) == "rsa-sha2-256"
    finally:
        transport.close()
    assert sent.count(USERAUTH_REQUEST) == 2  # the early one, refused, and the usual one


def test_an_rsa_key_the_server_does_not_know_is_refused(
    host_factory: HostFactory, tmp_path: Path
) -> None:
    """Refused with rsa-sha2-512 and again with rsa-sha2-256: still refused, no more asked."""
    host = host_factory()
    path = tmp_path / "id_rsa_stranger"
    subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", "rsa", "-b", "3072", "-f", str(path)])
    transport, sent = _handshake(host.port)
    try:
        with pytest.raises(paramiko.AuthenticationException):
            userauth.auth_publickey(transport, "root", load_private_key(path=str(path)))
        assert not transport.is_authenticated()
    finally:
        transport.close()
    assert sent.count(USERAUTH_REQUEST) == 2


def test_a_key_the_server_does_not_know_is_refused(
    host_factory: HostFactory, client_keys: ClientKeys
) -> None:
    host = host_factory()
    transport, _ = _handshake(host.port)
    try:
        with pytest.raises(paramiko.AuthenticationException):
            userauth.auth_publickey(
                transport, "root", load_private_key(path=str(client_keys.stranger))
            )
        assert not transport.is_authenticated()
    finally:
        transport.close()
