"""Host key trust with OpenSSH's semantics: a pinned fingerprint, or known_hosts (new hosts
recorded only when asked to, never a changed key).

`HostKeyPolicy` is the plain description callers give; `KnownHostsCheck` applies it to the key
a server presents.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from hardening.model.client import HOST_KEY_ALGORITHMS
from hardening.model.errors import ConnectError, HostKeyError
from hardening.ssh.keys import fingerprint


@dataclass(frozen=True)
class HostKeyPolicy:
    """How to trust the server: known_hosts (default), accept a new host, or a pinned key."""

    known_hosts: Path = field(default_factory=lambda: Path("~/.ssh/known_hosts").expanduser())
    accept_new: bool = False
    pinned_fingerprint: str | None = None


def _known_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


class KnownHostsCheck:
    """Host key verification with OpenSSH's semantics, on a HostKeys we control."""

    def __init__(self, policy: HostKeyPolicy, host: str, port: int) -> None:
        self.policy = policy
        self.name = _known_name(host, port)
        self.keys = paramiko.HostKeys()
        if policy.pinned_fingerprint is None and policy.known_hosts.exists():
            try:
                self.keys.load(str(policy.known_hosts))
            except Exception as exc:  # OSError, SSHException, InvalidHostKey: a broken file
                raise ConnectError(
                    f"cannot read known hosts {policy.known_hosts}: {exc}; fix or remove that line"
                ) from None

    def known_types(self) -> list[str]:
        entry = self.keys.lookup(self.name)
        if not entry:
            return []
        types = []
        for t in entry:
            types.extend(["rsa-sha2-512", "rsa-sha2-256"] if t == "ssh-rsa" else [t])
        return [t for t in types if t in HOST_KEY_ALGORITHMS]

    def verify(self, key: paramiko.PKey) -> None:
        fp = fingerprint(key)
        pinned = self.policy.pinned_fingerprint
        if pinned is not None:
            if fp != pinned:
                raise HostKeyError(
                    f"host key for {self.name} is {fp}, but {pinned} was pinned: a different "
                    "server answers, or it was rebuilt; check before you trust it"
                )
            return
        entry = self.keys.lookup(self.name)
        stored = entry.get(key.get_name()) if entry else None
        if stored is None and entry:
            # Known, by a key type it did not present: never "new" (recording this key would
            # trust whoever answers). We asked for the known types first (known_types).
            known = ", ".join(sorted(entry.keys()))
            if self.known_types():  # a type we use was known, yet the host offers it no more
                raise HostKeyError(
                    f"HOST KEY CHANGED for {self.name}: {self.policy.known_hosts} has its {known} "
                    f"key, but it no longer offers it and presents {key.get_name()} {fp}; if the "
                    f"server was rebuilt, remove the old entry (ssh-keygen -R '{self.name}') and "
                    "connect again"
                )
            raise HostKeyError(
                f"{self.name} is in {self.policy.known_hosts} with a {known} key only, which "
                "hardened-ecs does not use (ed25519 and RSA host keys only), so it cannot check "
                f"the {key.get_name()} key it now presents ({fp}); verify that fingerprint on the "
                "host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and pass "
                f"--host-key-fingerprint {fp}, or add the host's ed25519 key to known_hosts"
            )
        if stored is not None:
            if stored.asbytes() != key.asbytes():
                raise HostKeyError(
                    f"HOST KEY CHANGED for {self.name}: it now presents {fp}, which differs from "
                    f"the key in {self.policy.known_hosts}; if the server was rebuilt, remove the "
                    f"old entry (ssh-keygen -R '{self.name}') and connect again"
                )
            return
        if not self.policy.accept_new:
            raise HostKeyError(
                f"host key for {self.name} is unknown ({key.get_name()} {fp}); verify it and "
                "pass --host-key-fingerprint " + fp + " or --accept-new-host-key"
            )
        self._append(key)

    def remember_moved(self, key: paramiko.PKey) -> str | None:
        """After sshd moved to this port: record the key already trusted on the old one, so
        that `ssh -p` and the next run trust it here too. Nothing when the key is pinned (no
        known_hosts in use) or already recorded; a note when another key is recorded here."""
        if self.policy.pinned_fingerprint is not None:
            return None
        entry = self.keys.lookup(self.name)
        stored = entry.get(key.get_name()) if entry else None
        if stored is not None and stored.asbytes() == key.asbytes():
            return None
        if entry:
            return (
                f"{self.policy.known_hosts} has another key for {self.name}, not replaced: "
                f"remove it (ssh-keygen -R '{self.name}') if it belonged to an earlier server"
            )
        self._append(key)
        return None

    def _append(self, key: paramiko.PKey) -> None:
        self.keys.add(self.name, key.get_name(), key)
        path = self.policy.known_hosts
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as f:
                f.write(f"{self.name} {key.get_name()} {key.get_base64()}\n")
        except OSError as exc:
            raise HostKeyError(f"cannot record the host key in {path}: {exc.strerror}") from None
