"""The profiles: what each asks of sshd, the preferred crypto, and the operator's request.

Pure data, shared by validation (which checks a request against it) and the desired state
(which picks from it for one host).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hardening.model import defaults
from hardening.model.directives import Version

PROFILES = ("baseline", "minimal")
DEFAULT_PROFILE = "baseline"
# Where the managed values go. dropin: our drop-in where sshd_config's Include reads it first
# (else the managed block at the top of sshd_config); block: that block on every host, where
# scanners that read sshd_config alone (OpenSCAP's SSG content) look. README, "Where the
# values live", says why dropin stays the default.
PLACEMENTS = ("dropin", "block")
DEFAULT_PLACEMENT = "dropin"

# `minimal` is the original ask; KbdInteractiveAuthentication closes PAM's password prompt.
_MINIMAL: dict[str, str] = {
    "PermitRootLogin": "no",
    "PasswordAuthentication": "no",
    "KbdInteractiveAuthentication": "no",
    "PubkeyAuthentication": "yes",
}

# `baseline`: the union of dev-sec ssh_hardening, CIS and Mozilla (shared/reference.md), minus
# what would lock out ordinary users of an existing host (AllowUsers stays opt-in via --set).
_BASELINE: dict[str, str] = {
    **_MINIMAL,
    "PermitEmptyPasswords": "no",
    "AuthenticationMethods": "publickey",
    "HostbasedAuthentication": "no",
    "IgnoreRhosts": "yes",
    "GSSAPIAuthentication": "no",
    "KerberosAuthentication": "no",
    "UsePAM": "yes",
    "MaxAuthTries": "3",
    "LoginGraceTime": "30",
    "MaxStartups": "10:30:60",
    "MaxSessions": "10",
    "ClientAliveInterval": "300",
    "ClientAliveCountMax": "3",
    "X11Forwarding": "no",
    "AllowTcpForwarding": "no",
    "AllowAgentForwarding": "no",
    "AllowStreamLocalForwarding": "no",
    "PermitTunnel": "no",
    "GatewayPorts": "no",
    "PermitUserEnvironment": "no",
    "LogLevel": "VERBOSE",
    "StrictModes": "yes",
    "UseDNS": "no",
    "Compression": "no",
    "PrintMotd": "no",
    "PrintLastLog": "no",
}

# Preference-ordered crypto. Each list is cut down to what the host's OpenSSH knows.
# diffie-hellman-group-exchange-sha256 is left out on purpose: its strength depends on
# /etc/ssh/moduli, which images ship with 2048-bit groups that audits flag.
CRYPTO: dict[str, tuple[str, ...]] = {
    "KexAlgorithms": (
        "mlkem768x25519-sha256",
        "sntrup761x25519-sha512",
        "sntrup761x25519-sha512@openssh.com",
        "curve25519-sha256",
        "curve25519-sha256@libssh.org",
        "diffie-hellman-group16-sha512",
        "diffie-hellman-group18-sha512",
    ),
    "Ciphers": (
        "chacha20-poly1305@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-gcm@openssh.com",
        "aes256-ctr",
        "aes192-ctr",
        "aes128-ctr",
    ),
    # No umac-128-etm@openssh.com: CIS 5.1.15 lists it as weak, and every client that speaks
    # it (OpenSSH 6.2+) speaks the two SHA-2 ETM MACs as well; the AEAD ciphers use none.
    "MACs": (
        "hmac-sha2-512-etm@openssh.com",
        "hmac-sha2-256-etm@openssh.com",
    ),
    "HostKeyAlgorithms": ("ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256"),
}

# When the host cannot tell us (no `ssh -Q`), the first OpenSSH version that knows each name.
ALGORITHM_SINCE: dict[str, Version] = {
    "mlkem768x25519-sha256": (9, 9),
    "sntrup761x25519-sha512": (9, 9),
    "sntrup761x25519-sha512@openssh.com": (8, 5),
    "curve25519-sha256": (7, 4),
    "curve25519-sha256@libssh.org": (6, 5),
    "diffie-hellman-group16-sha512": (7, 3),
    "diffie-hellman-group18-sha512": (7, 3),
    "chacha20-poly1305@openssh.com": (6, 5),
    "aes256-gcm@openssh.com": (6, 2),
    "aes128-gcm@openssh.com": (6, 2),
    "aes256-ctr": (5, 2),
    "aes192-ctr": (5, 2),
    "aes128-ctr": (5, 2),
    "hmac-sha2-512-etm@openssh.com": (6, 2),
    "hmac-sha2-256-etm@openssh.com": (6, 2),
    "ssh-ed25519": (6, 5),
    "rsa-sha2-512": (7, 2),
    "rsa-sha2-256": (7, 2),
}

# Which host key file each host key algorithm needs.
HOST_KEY_TYPE = {"ssh-ed25519": "ed25519", "rsa-sha2-512": "rsa", "rsa-sha2-256": "rsa"}


@dataclass(frozen=True)
class Request:
    """What the operator asked for: a profile, overrides, and the admin user to keep in."""

    profile: str = DEFAULT_PROFILE
    overrides: Mapping[str, str] = field(default_factory=dict)
    admin_user: str = defaults.ADMIN_USER
    # An existing account of that name that hardened-ecs did not create may be given our key
    # and sudo only when the operator says it is theirs.
    adopt_admin: bool = False
    placement: str = DEFAULT_PLACEMENT  # one of PLACEMENTS


def profile_settings(profile: str) -> dict[str, str]:
    """The directives a profile sets before any override (baseline for anything but minimal)."""
    return dict(_BASELINE if profile == "baseline" else _MINIMAL)
