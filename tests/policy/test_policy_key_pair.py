"""The policy rule on imported key pairs: RSA of 3072 bits and ECDSA pass; RSA 2048, DSA and
garbage fail; a key pair without an imported key passes."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

from policy.guardrails.key_pair import check_key_pair, describe_public_key
from tests.policy.resources import CTX, KEY_PAIR, openssh


@pytest.fixture(scope="module")
def rsa_3072() -> str:
    return openssh(rsa.generate_private_key(public_exponent=65537, key_size=3072))


@pytest.fixture(scope="module")
def rsa_2048() -> str:
    return openssh(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def test_rsa_3072_and_ecdsa_key_pairs_pass(rsa_3072: str) -> None:
    ecdsa = openssh(ec.generate_private_key(ec.SECP256R1()))
    assert check_key_pair(KEY_PAIR, {"publicKey": rsa_3072 + " ops@example"}, CTX) == []
    assert check_key_pair(KEY_PAIR, {"publicKey": ecdsa}, CTX) == []
    assert describe_public_key(rsa_3072) == ("ssh-rsa", 3072)


def test_rsa_2048_key_pair_fails(rsa_2048: str) -> None:
    findings = check_key_pair(KEY_PAIR, {"publicKey": rsa_2048}, CTX)
    assert [f.config_key for f in findings] == ["hardened-ecs:sshPublicKey"]
    assert "2048 bits" in findings[0].message


@pytest.mark.filterwarnings("ignore:SSH DSA key support is deprecated")
def test_dsa_and_garbage_key_pairs_fail() -> None:
    dsa_key = openssh(dsa.generate_private_key(key_size=1024))
    assert check_key_pair(KEY_PAIR, {"publicKey": dsa_key}, CTX)
    assert check_key_pair(KEY_PAIR, {"publicKey": "ssh-rsa not-base64!"}, CTX)
    # Declared type and encoded type disagree: a tampered or pasted-wrong key.
    body = openssh(ec.generate_private_key(ec.SECP256R1())).split()[1]
    assert check_key_pair(KEY_PAIR, {"publicKey": f"ssh-rsa {body}"}, CTX)


def test_key_pair_without_imported_key_passes() -> None:
    assert check_key_pair(KEY_PAIR, {"keyPairName": "generated"}, CTX) == []
