"""SSH key checks: which operator keys work, which ImportKeyPair takes, whether keys match.

Messages never contain key material: they are shown by `pulumi up` and kept in CI logs.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

MIN_RSA_BITS = 3072
IMPORTABLE_KINDS = frozenset({"rsa", "ecdsa"})
_ECDSA_CURVES = {"secp256r1": 256, "secp384r1": 384, "secp521r1": 521}
_PUBLIC = (serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


@dataclass(frozen=True)
class PublicKeyInfo:
    """A parsed public key: the line as given, its canonical form (no comment), its family."""

    line: str
    openssh: str
    kind: str  # "rsa", "ecdsa" or "ed25519": what decides the usual ~/.ssh/id_<kind> file name
    bits: int

    @property
    def importable(self) -> bool:
        """Alibaba's ImportKeyPair takes RSA and ECDSA only; cloud-init authorizes any type."""
        return self.kind in IMPORTABLE_KINDS


class KeyProblem(ValueError):
    """A key that cannot be used; the message says why, without quoting the key."""


def parse_public_key(text: str) -> PublicKeyInfo:
    """Parse one OpenSSH public key line: RSA (3072+ bits), ECDSA or ed25519."""
    line = text.strip()
    if not line or "\n" in line:
        raise KeyProblem("must be exactly one OpenSSH public key line ('ssh-rsa AAAA… comment')")
    if "PRIVATE KEY" in line:
        raise KeyProblem("looks like a PRIVATE key; this setting takes the .pub file's content")
    try:
        key = serialization.load_ssh_public_key(line.encode())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyProblem("is not an OpenSSH public key line ('ssh-rsa AAAA… comment')") from exc
    canonical = key.public_bytes(*_PUBLIC).decode()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise KeyProblem(
                f"is a {key.key_size}-bit RSA key; RSA keys must have at least {MIN_RSA_BITS} bits"
            )
        return PublicKeyInfo(line, canonical, "rsa", key.key_size)
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _ECDSA_CURVES:
            raise KeyProblem(f"uses the curve {key.curve.name}; use nistp256, nistp384 or nistp521")
        return PublicKeyInfo(line, canonical, "ecdsa", _ECDSA_CURVES[key.curve.name])
    if isinstance(key, ed25519.Ed25519PublicKey):
        return PublicKeyInfo(line, canonical, "ed25519", 256)
    if isinstance(key, dsa.DSAPublicKey):
        raise KeyProblem("is a DSA key, which is obsolete; use ed25519, RSA (3072+ bits) or ECDSA")
    raise KeyProblem("has an unsupported type; use ed25519, RSA (3072+ bits) or ECDSA")


def private_key_matches(private_text: str, public: PublicKeyInfo) -> None:
    """Raise KeyProblem unless ``private_text`` is the unencrypted private half of ``public``."""
    data = private_text.strip().encode() + b"\n"
    # Whatever the loaders return (their unions grow with cryptography's key types): the
    # isinstance check below is what decides.
    key: object
    try:
        if b"BEGIN OPENSSH PRIVATE KEY" in data:
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        # cryptography raises TypeError for a passphrase-protected key read without one.
        raise KeyProblem(
            "is protected by a passphrase; the hardening step needs an unencrypted key "
            "(store it only as a Pulumi secret)"
        ) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyProblem("is not a readable private key (OpenSSH or PEM format)") from exc
    if not isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    ):
        raise KeyProblem("is not an SSH key type (ed25519, RSA or ECDSA)")
    derived = key.public_key().public_bytes(*_PUBLIC).decode()
    if derived != public.openssh:
        raise KeyProblem("is not the private half of sshPublicKey")
