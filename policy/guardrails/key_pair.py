"""Mandatory: an imported key pair is not RSA under 3072 bits (nor DSA)."""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Mapping
from typing import Any

from .model import Finding, RuleContext, config_key, get

KEY_PAIR_TYPES = frozenset({"alicloud:ecs/ecsKeyPair:EcsKeyPair", "alicloud:ecs/keyPair:KeyPair"})
MIN_RSA_BITS = 3072


class KeyParseError(ValueError):
    pass


def _read_string(blob: bytes, offset: int) -> tuple[bytes, int]:
    if offset + 4 > len(blob):
        raise KeyParseError("truncated key blob")
    (length,) = struct.unpack(">I", blob[offset : offset + 4])
    end = offset + 4 + length
    if end > len(blob):
        raise KeyParseError("truncated key blob")
    return blob[offset + 4 : end], end


def describe_public_key(line: str) -> tuple[str, int | None]:
    """OpenSSH public key line -> (algorithm, RSA modulus bits or None)."""
    fields = line.split()
    if len(fields) < 2:
        raise KeyParseError("expected '<type> <base64> [comment]'")
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyParseError("key body is not base64") from exc
    algorithm_raw, offset = _read_string(blob, 0)
    algorithm = algorithm_raw.decode("ascii", "replace")
    if algorithm != fields[0]:
        raise KeyParseError(f"key type {fields[0]!r} does not match its body {algorithm!r}")
    if algorithm != "ssh-rsa":
        return algorithm, None
    _exponent, offset = _read_string(blob, offset)
    modulus, _ = _read_string(blob, offset)
    return algorithm, int.from_bytes(modulus, "big").bit_length()


def check_key_pair(resource_type: str, props: Mapping[str, Any], ctx: RuleContext) -> list[Finding]:
    if resource_type not in KEY_PAIR_TYPES:
        return []
    public_key = get(props, "publicKey")
    if not public_key:
        return []  # Alibaba generates the key itself: nothing weak was imported.
    key = config_key("sshPublicKey")
    try:
        algorithm, bits = describe_public_key(str(public_key))
    except KeyParseError as exc:
        return [Finding(f"public key is not a valid OpenSSH public key: {exc}", config_key=key)]
    if algorithm == "ssh-dss":
        return [Finding("DSA public key: use RSA >= 3072 bits or ECDSA", config_key=key)]
    if bits is not None and bits < MIN_RSA_BITS:
        return [
            Finding(
                f"RSA public key has {bits} bits; at least {MIN_RSA_BITS} are required",
                config_key=key,
            )
        ]
    return []
