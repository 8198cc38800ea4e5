"""Fresh host keys: what a host-key rotation writes, and the fingerprint it will present.

A rotation replaces the host's ed25519 host key through the same transaction as any other
change (staged beside the target, rollback armed, proven by a fresh login that must meet the
new key, confirmed; rolled back by the host itself otherwise). The key is made here, on the
machine that runs the engine, and travels only inside the pinned SSH channel; nothing but
its public half and fingerprint is kept afterwards.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from hardening.planning.plan import FileChange

HOST_KEY_PATH = "/etc/ssh/ssh_host_ed25519_key"


def openssh_fingerprint(public_line: str) -> str:
    """OpenSSH's SHA256 fingerprint of a public key line ("ssh-ed25519 AAAA… [comment]")."""
    blob = base64.b64decode(public_line.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


@dataclass(frozen=True)
class HostKey:
    """An ed25519 host key: OpenSSH private key text, public line, fingerprint."""

    private: str = field(repr=False)
    public: str
    fingerprint: str


def new_host_key() -> HostKey:
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return HostKey(private, public, openssh_fingerprint(public))


def host_key_files(key: HostKey) -> list[FileChange]:
    """The two files a rotation writes (root:root 0600, like every file of a transaction)."""
    return [
        FileChange(HOST_KEY_PATH, key.private),
        FileChange(f"{HOST_KEY_PATH}.pub", key.public + "\n"),
    ]


def known_hosts_line(host: str, port: int, public_line: str) -> str:
    """The line ssh's known_hosts takes for this key (OpenSSH's [host]:port for other ports)."""
    name = host if port == 22 else f"[{host}]:{port}"
    kind, blob = public_line.split()[:2]
    return f"{name} {kind} {blob}"
