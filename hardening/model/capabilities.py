"""What the desired state depends on from a host: its OpenSSH and what that OpenSSH knows.

The host layer fills it in from the facts (HostFacts.capabilities); the model reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hardening.model.directives import Version


@dataclass(frozen=True)
class HostCapabilities:
    """What the desired state depends on, read from the host (see hardening.host.facts)."""

    version: Version
    # `ssh -Q kex|cipher|mac|key` on the host; empty when the client is not installed.
    algorithms: Mapping[str, frozenset[str]] = field(default_factory=dict)
    host_key_types: frozenset[str] = frozenset({"ed25519", "rsa"})
    # Keys the host's `sshd -T` prints; decides build-optional directives.
    sshd_keys: frozenset[str] = frozenset()
