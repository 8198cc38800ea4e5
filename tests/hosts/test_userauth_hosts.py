"""Public-key authentication one round trip shorter (hardening/ssh/userauth.py), against a real
sshd: the signed request goes before the server accepted the service, and OpenSSH still logs it
in (it handles the request once the service is accepted, auth2.c). The rest (RSA waits, an
unknown key is refused) needs no real host: tests/unit/test_userauth_loopback.py."""

from __future__ import annotations

import pytest

from hardening.ssh.keys import load_private_key
from tests.conftest import ClientKeys, HostFactory
from tests.helpers.userauth_probe import assert_early_and_once, probe_login


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa"])
def test_the_request_goes_before_the_service_is_accepted_and_logs_in(
    host_factory: HostFactory, client_keys: ClientKeys, kind: str
) -> None:
    host = host_factory()
    key = load_private_key(path=str(getattr(client_keys, kind)))
    assert_early_and_once(probe_login(host.port, key))
