"""What our own SSH client (paramiko) speaks, by sshd_config directive.

The desired state must keep an overlap with it (validation, desired), and the transport offers
exactly these. paramiko is imported here: import this module only when a list is needed.
"""

from __future__ import annotations

import paramiko

# Host key algorithms we accept: the ones the hardened server keeps offering, so the key we
# record on first contact is still the one it presents afterwards.
HOST_KEY_ALGORITHMS = ("ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256")


def paramiko_list(name: str) -> tuple[str, ...]:
    """paramiko's own preference lists (class attributes it keeps private)."""
    return tuple(getattr(paramiko.Transport, name))


# What our client speaks, by sshd_config directive; the desired state must keep an overlap.
CLIENT_ALGORITHMS: dict[str, tuple[str, ...]] = {
    "KexAlgorithms": paramiko_list("_preferred_kex"),
    "Ciphers": paramiko_list("_preferred_ciphers"),
    "MACs": paramiko_list("_preferred_macs"),
    "HostKeyAlgorithms": HOST_KEY_ALGORITHMS,
}
