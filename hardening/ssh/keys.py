"""Private keys for logging in: loaded from a file or from text (a Pulumi secret), never logged."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from hardening.model.errors import UsageError


def _key_class(data: bytes, password: bytes | None) -> type[paramiko.PKey]:
    try:
        loaded = serialization.load_ssh_private_key(data, password=password)
    except ValueError:
        loaded = serialization.load_pem_private_key(data, password=password)  # type: ignore[assignment]
    if isinstance(loaded, rsa.RSAPrivateKey):
        return paramiko.RSAKey
    if isinstance(loaded, ed25519.Ed25519PrivateKey):
        return paramiko.Ed25519Key
    if isinstance(loaded, ec.EllipticCurvePrivateKey):
        return paramiko.ECDSAKey
    raise ValueError(f"unsupported key type {type(loaded).__name__}")


def _encrypted(data: bytes) -> bool:
    """Whether a key file says it is encrypted (PEM header, or OpenSSH's cipher field)."""
    if b"ENCRYPTED" in data[:200]:
        return True
    body = b"".join(data.strip().split(b"\n")[1:-1])
    try:
        raw = base64.b64decode(body)
    except ValueError:
        return False
    return raw.startswith(b"openssh-key-v1\0") and b"none" not in raw[15:40]


def load_private_key(
    *,
    path: str | None = None,
    text: str | None = None,
    passphrase: str | None = None,
    setting: str = "--identity",
    passphrase_hint: str = "--passphrase-env NAME",
) -> paramiko.PKey:
    """Load an RSA, ECDSA or Ed25519 private key; errors name `setting` and the fix."""
    if (path is None) == (text is None):
        raise UsageError(f"{setting}: give exactly one private key")
    if path is not None:
        p = Path(path).expanduser()
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise UsageError(
                f"{setting} {path}: no such file; pass the private key's path"
            ) from None
        except PermissionError:
            raise UsageError(
                f"{setting} {path}: not readable by this user; fix its permissions (chmod 600)"
            ) from None
        except IsADirectoryError:
            raise UsageError(f"{setting} {path}: is a directory, not a private key file") from None
        except OSError as exc:
            raise UsageError(f"{setting} {path}: cannot read it ({exc.strerror or exc})") from None
        where = f"{setting} {path}"
    else:
        data = (text or "").encode()
        where = setting
    password = passphrase.encode() if passphrase else None
    try:
        cls = _key_class(data, password)
        return cls.from_private_key(io.StringIO(data.decode()), password=passphrase)
    except TypeError:
        # cryptography: "...private key is encrypted" (PEM) or "Key is password-protected,
        # but password was not provided" (OpenSSH format); never any key material.
        if password is None:
            raise UsageError(
                f"{where}: the private key is encrypted; give its passphrase through an "
                f"environment variable ({passphrase_hint})"
            ) from None
        # A passphrase for a key that has none: ignore it, as ssh does.
        return load_private_key(path=path, text=text, setting=setting)
    except (ValueError, paramiko.SSHException, UnicodeDecodeError):
        # A wrong passphrase reads as corrupt data ("broken checksum", "bad decrypt").
        if password is not None and _encrypted(data):
            raise UsageError(f"{where}: wrong passphrase for this key") from None
        raise UsageError(
            f"{where}: not an OpenSSH or PEM private key; pass an RSA, ECDSA or Ed25519 private key"
        ) from None


def public_line(key: paramiko.PKey, comment: str = "hardened-ecs") -> str:
    """The authorized_keys line for a private key's public half."""
    return f"{key.get_name()} {key.get_base64()} {comment}"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint, e.g. SHA256:abc... (what `ssh-keygen -l` prints)."""
    return str(key.fingerprint)


def signature_algorithms(key: paramiko.PKey) -> tuple[str, ...]:
    """The public key algorithms this key can log in with (PubkeyAcceptedAlgorithms names)."""
    if isinstance(key, paramiko.RSAKey):
        return ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")
    return (key.get_name(),)


def rsa_bits(key: paramiko.PKey) -> int | None:
    """The size of an RSA key (RequiredRSASize applies to RSA only)."""
    return key.get_bits() if isinstance(key, paramiko.RSAKey) else None
