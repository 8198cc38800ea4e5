"""Public-key authentication one round trip shorter (hardening/ssh/userauth.py), against a real
sshd: the signed request goes before the server accepted the service, and still logs in."""

from __future__ import annotations

import socket

import paramiko
import pytest

from hardening.ssh import userauth
from hardening.ssh.keys import load_private_key
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


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa"])
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


def test_an_rsa_key_waits_for_the_accept_and_logs_in(
    host_factory: HostFactory, client_keys: ClientKeys
) -> None:
    """RSA's signature algorithm follows the server's EXT_INFO: paramiko's own order."""
    host = host_factory()
    key = load_private_key(path=str(client_keys.rsa))
    assert not userauth.pipelines(key)
    transport, sent = _handshake(host.port)
    try:
        userauth.auth_publickey(transport, "root", key)
        assert transport.is_authenticated()
    finally:
        transport.close()
    assert sent.count(USERAUTH_REQUEST) == 1


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
