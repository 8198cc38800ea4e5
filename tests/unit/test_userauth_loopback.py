"""Public-key authentication one round trip shorter (hardening/ssh/userauth.py), against the
in-process SSH server: the signed request goes before the service is accepted and logs in; an
RSA key waits for the accept; an unknown key is refused. That OpenSSH's sshd takes the early
request too is tests/hosts/test_userauth_hosts.py."""

from __future__ import annotations

import threading

import paramiko
import pytest

from hardening.ssh import userauth
from hardening.ssh.keys import load_private_key
from tests.conftest import ClientKeys
from tests.helpers.userauth_probe import USERAUTH_REQUEST, assert_early_and_once, probe_login
from tests.unit.conftest import ServerFactory


def test_the_request_goes_before_the_service_is_accepted_and_logs_in(
    loopback_server: ServerFactory, client_keys: ClientKeys
) -> None:
    server = loopback_server()
    for path in (client_keys.ed25519, client_keys.ecdsa):
        login = probe_login(server.port, load_private_key(path=str(path)), hold_accept=True)
        assert_early_and_once(login)
    assert [(a.user, a.accepted) for a in server.auth_attempts] == [("root", True)] * 2


def test_an_rsa_key_waits_for_the_accept_and_logs_in(
    loopback_server: ServerFactory, client_keys: ClientKeys
) -> None:
    """RSA's signature algorithm follows the server's EXT_INFO: paramiko's own order."""
    server = loopback_server()
    key = load_private_key(path=str(client_keys.rsa))
    assert not userauth.pipelines(key)
    login = probe_login(server.port, key)
    assert login.authenticated
    assert login.sent.count(USERAUTH_REQUEST) == 1


def test_a_key_the_server_does_not_know_is_refused(
    loopback_server: ServerFactory, client_keys: ClientKeys
) -> None:
    server = loopback_server()
    login = probe_login(server.port, load_private_key(path=str(client_keys.stranger)))
    assert isinstance(login.refused, paramiko.AuthenticationException)
    assert not login.authenticated
    assert [(a.user, a.accepted) for a in server.auth_attempts] == [("root", False)]


def test_an_accept_that_comes_while_the_key_signs_is_not_answered_again(
    loopback_server: ServerFactory, client_keys: ClientKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = loopback_server()
    key = load_private_key(path=str(client_keys.ecdsa))
    accept_came = threading.Event()
    sign = key.sign_ssh_data

    def slow_sign(data: bytes, algorithm: str | None = None) -> paramiko.Message:
        accept_came.wait(timeout=10)  # the accept is back before the signature is done
        return sign(data, algorithm)

    monkeypatch.setattr(key, "sign_ssh_data", slow_sign)
    login = probe_login(server.port, key, on_accept=accept_came.set)
    assert login.authenticated
    assert login.sent.count(USERAUTH_REQUEST) == 1
