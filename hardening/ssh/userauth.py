"""Public-key authentication one round trip shorter: the request rides behind the service
request instead of waiting for the server's accept.

paramiko asks for the `ssh-userauth` service, waits for SERVICE_ACCEPT, and only then sends
the signed USERAUTH_REQUEST: two round trips. The signature needs only the session id, which
the key exchange already gave, so the request can go right behind the service request;
OpenSSH's sshd reads messages in order and handles the request once the service is
accepted (auth2.c). paramiko's own code builds and signs it: `_parse_service_accept` is
called early instead of on the accept, and the accept, when it comes, is not answered again.

RSA keys: their signature algorithm follows the server-sig-algs the server sends in EXT_INFO,
which may still be on its way at this point. paramiko then signs with its first choice,
rsa-sha2-512, which every OpenSSH since 7.2 accepts unless told otherwise
(PubkeyAcceptedAlgorithms), so the request goes early only to such a server (its version
string says so). A refusal cannot say whether the key or the algorithm was refused (and
OpenSSH's server-sig-algs lists every algorithm it knows, not the accepted ones), so an RSA
key refused early is asked once more with the next RSA algorithm (rsa-sha2-256): a server that
does not take rsa-sha2-512 still logs in; a key it refuses is still refused.

What goes behind the early request (`then`, transport.py: the first command's channel open)
is read by sshd only once the login succeeded, for the same reason; a refused login drops it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import paramiko
from paramiko.auth_handler import AuthHandler
from paramiko.message import Message


class _EarlyRequest(AuthHandler):
    """paramiko's client AuthHandler, sending its public-key request without waiting."""

    _sent_early = False

    def _request_auth(self) -> None:
        # Set first: the server's accept may come while the request is signed (an RSA-3072
        # signature takes milliseconds), and must not be answered with a second request.
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


RSA_SHA2_SINCE = (7, 2)  # the OpenSSH release that accepts rsa-sha2-512/256 signatures


def _openssh_release(version: str) -> tuple[int, int] | None:
    m = re.match(r"SSH-2\.0-OpenSSH_(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else None


def pipelines(key: paramiko.PKey, server_version: str = "") -> bool:
    """Whether this paramiko has the methods the early request is built with, and `key`
    signs the same way whatever the server's EXT_INFO says (not RSA), or, for RSA, the
    server's version string says OpenSSH 7.2 or later."""
    if not _HOOKS:
        return False
    if "rsa" not in key.get_name():
        return True
    release = _openssh_release(server_version)
    return release is not None and release >= RSA_SHA2_SINCE


def auth_publickey(
    transport: paramiko.Transport,
    username: str,
    key: paramiko.PKey,
    then: Callable[[], None] | None = None,
) -> bool:
    """`transport.auth_publickey`, one round trip shorter for keys that allow it.

    `then` is called right behind the early request, when one is sent. Returns True when that
    early request itself logged in (so what `then` sent behind it was read after the login),
    False when the login took the usual way or a second request.
    Raises what paramiko raises: AuthenticationException (refused), BadAuthenticationType,
    SSHException.
    """
    if not pipelines(key, str(getattr(transport, "remote_version", ""))):
        transport.auth_publickey(username, key)
        return False
    if not transport.is_active() or not getattr(transport, "initial_kex_done", False):
        raise paramiko.SSHException("No existing session")
    done = threading.Event()
    handler = _EarlyRequest(transport)
    transport.auth_handler = handler
    handler.auth_publickey(username, key, done)
    if then is not None:
        then()
    try:
        handler.wait_for_response(done)
        return True
    except paramiko.AuthenticationException:
        used = getattr(transport, "_agreed_pubkey_algorithm", None)
        if "rsa" not in key.get_name() or not used or not transport.is_active():
            raise
        others = [a for a in transport.preferred_pubkeys if "rsa" in a and a != used]
        if not others:
            raise
        # Once more, the usual way, without the algorithm that was refused.
        disabled = dict(transport.disabled_algorithms or {})
        disabled["pubkeys"] = [*disabled.get("pubkeys", []), used]
        transport.disabled_algorithms = disabled
        transport.auth_publickey(username, key)
        return False
