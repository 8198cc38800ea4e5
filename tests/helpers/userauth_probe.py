"""One public-key login through hardening/ssh/userauth.py, watched from the client: the type of
every message it sent and when the server's SERVICE_ACCEPT was parsed. Shared by the proof on a
real sshd (tests/hosts/) and the tests on the in-process server (tests/unit/)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import paramiko

from hardening.ssh import userauth
from tests.testhosts.chroot import LOOPBACK

SERVICE_ACCEPT, USERAUTH_REQUEST = 6, 50  # RFC 4253 / 4252 message numbers


@dataclass
class Login:
    sent: list[int] = field(default_factory=list)  # message types, in order
    accepted_after: list[int] = field(default_factory=list)  # len(sent) at each accept parsed
    request_sent: threading.Event = field(default_factory=threading.Event)
    authenticated: bool = False
    refused: paramiko.AuthenticationException | None = None
    algorithm: str | None = None  # the public-key algorithm the last request signed with


def probe_login(
    port: int,
    key: paramiko.PKey,
    *,
    hold_accept: bool = False,
    on_accept: Callable[[], None] | None = None,
    server_says: str | None = None,
) -> Login:
    """Log in as root on 127.0.0.1:`port`. `hold_accept`: the accept is parsed only once the
    request went (bounded), as over a real link's round trip; on loopback it can otherwise
    come back while the key still signs. `on_accept` runs when the accept arrives.
    `server_says`: the version string the client is to believe the server sent."""
    login = Login()
    transport = paramiko.Transport(socket.create_connection((LOOPBACK, port), timeout=10))
    transport.start_client(timeout=10)
    if server_says is not None:
        transport.remote_version = server_says
    send = getattr(transport, "_send_message")  # noqa: B009 (private: not in the stubs)

    def record(m: paramiko.Message) -> None:
        send(m)
        login.sent.append(m.asbytes()[0])
        if login.sent[-1] == USERAUTH_REQUEST:
            login.request_sent.set()

    setattr(transport, "_send_message", record)  # noqa: B010
    handler_class = userauth._EarlyRequest
    parse = handler_class._parse_service_accept

    def seen(self: userauth._EarlyRequest, m: paramiko.Message) -> None:
        if on_accept is not None:
            on_accept()
        if hold_accept:  # a client that waits for the accept never sends it: the bound passes
            login.request_sent.wait(timeout=10)
        login.accepted_after.append(len(login.sent))
        parse(self, m)

    try:
        handler_class._parse_service_accept = seen  # type: ignore[method-assign]
        userauth.auth_publickey(transport, "root", key)
    except paramiko.AuthenticationException as exc:
        login.refused = exc
    finally:
        handler_class._parse_service_accept = parse  # type: ignore[method-assign]
        login.authenticated = transport.is_authenticated()
        login.algorithm = getattr(transport, "_agreed_pubkey_algorithm", None)
        transport.close()
    return login


def assert_early_and_once(login: Login) -> None:
    """Logged in, with the request sent before the accept came and never again after it."""
    assert login.authenticated and login.refused is None
    assert login.sent.count(USERAUTH_REQUEST) == 1  # sent once: the accept is not answered again
    assert login.accepted_after and login.sent.index(USERAUTH_REQUEST) < login.accepted_after[0]
