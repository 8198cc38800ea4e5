"""Public-key authentication one round trip shorter: the request rides behind the service
request instead of waiting for the server's accept.

paramiko asks for the `ssh-userauth` service, waits for SERVICE_ACCEPT, and only then sends
the signed USERAUTH_REQUEST: two round trips. The signature needs only the session id, which
the key exchange already gave, so the request can go right behind the service request;
OpenSSH's sshd reads messages in order and handles the request once the service is
accepted (auth2.c). paramiko's own code builds and signs it: `_parse_service_accept` is
called early instead of on the accept, and the accept, when it comes, is not answered again.

Not for RSA keys: their signature algorithm (rsa-sha2-512/256 or ssh-rsa) follows the
server-sig-algs the server sends in EXT_INFO, which may still be on its way at this point.
"""

from __future__ import annotations

import threading

import paramiko
from paramiko.auth_handler import AuthHandler
from paramiko.message import Message


class _EarlyRequest(AuthHandler):
    """paramiko's client AuthHandler, sending its public-key request without waiting."""

    _sent_early = False

    def _request_auth(self) -> None:
        # Set before anything goes out: the server's accept can be parsed (transport thread)
        # while the key still signs, and must not send the request a second time.
        self._sent_early = True
        super()._request_auth()  # type: ignore[misc]
        accept = Message()
        accept.add_string("ssh-userauth")
        accept.rewind()
        super()._parse_service_accept(accept)  # type: ignore[misc]

    def _parse_service_accept(self, m: Message) -> None:
        if not self._sent_early:  # the request went already, behind the service request
            super()._parse_service_accept(m)  # type: ignore[misc]


# The paramiko internals used above; a paramiko without them logs in the usual way.
_HOOKS = all(
    callable(getattr(AuthHandler, name, None))
    for name in ("_request_auth", "_parse_service_accept")
)


def pipelines(key: paramiko.PKey) -> bool:
    """Whether `key` signs the same way whatever the server's EXT_INFO says (not RSA), and
    this paramiko has the methods the early request is built with."""
    return _HOOKS and "rsa" not in key.get_name()


def auth_publickey(transport: paramiko.Transport, username: str, key: paramiko.PKey) -> None:
    """`transport.auth_publickey`, one round trip shorter for keys that allow it.

    Raises what paramiko raises: AuthenticationException (refused), BadAuthenticationType,
    SSHException.
    """
    if not pipelines(key):
        transport.auth_publickey(username, key)
        return
    if not transport.is_active() or not getattr(transport, "initial_kex_done", False):
        raise paramiko.SSHException("No existing session")
    done = threading.Event()
    handler = _EarlyRequest(transport)
    transport.auth_handler = handler
    handler.auth_publickey(username, key, done)
    handler.wait_for_response(done)
