"""The desired state: profiles, crypto choices per OpenSSH version, and request validation.

Like the Ansible role's defaults, this module is data plus the rules for picking from it. It
knows nothing about a particular host beyond the facts it is handed (version, the algorithms the
host's OpenSSH knows, its host key types).
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hardening.admin_account import admin_name_problem
from hardening.directives import (
    CATALOGUE,
    HOST_OWNED,
    Directive,
    ValueError_,
    Version,
    format_version,
    lookup,
)

PROFILES = ("baseline", "minimal")
DEFAULT_PROFILE = "baseline"

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
    "MACs": (
        "hmac-sha2-512-etm@openssh.com",
        "hmac-sha2-256-etm@openssh.com",
        "umac-128-etm@openssh.com",
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
    "umac-128-etm@openssh.com": (6, 2),
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
    admin_user: str = "ops"
    # An existing account of that name that hardened-ecs did not create may be given our key
    # and sudo only when the operator says it is theirs.
    adopt_admin: bool = False


def parse_set_flags(items: Iterable[str]) -> dict[str, str]:
    """`--set Directive=value` items into a dict; malformed items raise ValueError_."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError_(
                f"--set {item!r}: expected Directive=value, e.g. --set MaxAuthTries=3"
            )
        out[name.strip()] = value.strip()
    return out


def _user_allowed(user: str, allow: str | None, deny: str | None) -> bool:
    def matches(patterns: str) -> bool:
        hit = False
        for pattern in patterns.split():
            negated = pattern.startswith("!")
            user_part = pattern.lstrip("!").split("@", 1)[0]
            if fnmatch.fnmatchcase(user, user_part):
                if negated:
                    return False
                hit = True
        return hit

    if deny and matches(deny):
        return False
    return allow is None or matches(allow)


def _client_algorithms() -> Mapping[str, Sequence[str]]:
    from hardening.transport import CLIENT_ALGORITHMS  # paramiko: only when validating

    return CLIENT_ALGORITHMS


def crypto_lockout(name: str, value: str, client: Mapping[str, Sequence[str]]) -> str | None:
    """A crypto list with nothing our own client speaks would lock hardened-ecs out."""
    if name not in CRYPTO or set(value.split(",")) & set(client.get(name, ())):
        return None
    return (
        f"{name}={value!r}: hardened-ecs (paramiko) speaks none of these, so it could not "
        f"verify its own change; include one of: {', '.join(client.get(name, ()))}"
    )


def validate_request(
    profile: str,
    overrides: Mapping[str, str],
    admin_user: str,
    client_algorithms: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Host-independent problems with a request, each naming the setting and the fix."""
    problems: list[str] = []
    if profile not in PROFILES:
        problems.append(
            f"profile {profile!r} is unknown: use one of {', '.join(PROFILES)} "
            f"(e.g. --profile {DEFAULT_PROFILE})"
        )
    admin_problem = admin_name_problem(admin_user)
    if admin_problem:
        problems.append(
            f"admin user {admin_user!r} is not usable: {admin_problem}, e.g. --admin-user ops"
        )
    normalized: dict[str, str] = {}
    for name, value in overrides.items():
        key = name.strip().lower()
        if key in HOST_OWNED:
            problems.append(
                f"{name}: is the host's own setting and is not managed by hardened-ecs "
                "(it is kept as it is); remove this override"
            )
            continue
        directive = lookup(name)
        if directive is None:
            close = difflib.get_close_matches(
                name, [d.name for d in CATALOGUE.values()], n=1, cutoff=0.6
            )
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{name}: unknown sshd directive{hint}; remove it or fix its spelling")
            continue
        try:
            normalized[directive.name] = directive.normalize(value)
        except ValueError_ as exc:
            problems.append(f"{directive.name}={value!r}: {exc}")
            continue
        if directive.name in CRYPTO:
            client = client_algorithms or _client_algorithms()
            lockout = crypto_lockout(directive.name, normalized[directive.name], client)
            if lockout:
                problems.append(lockout)
    problems.extend(_lockout_problems(profile, normalized, admin_user))
    return problems


def _lockout_problems(profile: str, overrides: Mapping[str, str], admin_user: str) -> list[str]:
    """Combinations that would let nobody (and so not us) back in."""
    effective = {**(_BASELINE if profile == "baseline" else _MINIMAL), **overrides}
    problems = []
    if effective.get("PubkeyAuthentication") == "no":
        both_off = effective.get("PasswordAuthentication") == "no"
        what = "with passwords off nobody can log in" if both_off else "hardened-ecs logs in"
        problems.append(
            f"PubkeyAuthentication=no: {what} with a key; keep PubkeyAuthentication=yes"
        )
    methods = effective.get("AuthenticationMethods")
    if methods and methods != "any" and "publickey" not in methods.split():
        problems.append(
            f"AuthenticationMethods={methods!r}: no list lets a key alone in, so hardened-ecs "
            "could not verify its own change; include 'publickey' as one of the lists"
        )
    if not _user_allowed(admin_user, overrides.get("AllowUsers"), overrides.get("DenyUsers")):
        problems.append(
            f"AllowUsers/DenyUsers: the admin user {admin_user!r} would be refused; "
            f"add {admin_user} to AllowUsers (and keep it out of DenyUsers)"
        )
    return problems


@dataclass(frozen=True)
class HostCapabilities:
    """What the desired state depends on, read from the host (see hardening.facts)."""

    version: Version
    # `ssh -Q kex|cipher|mac|key` on the host; empty when the client is not installed.
    algorithms: Mapping[str, frozenset[str]] = field(default_factory=dict)
    host_key_types: frozenset[str] = frozenset({"ed25519", "rsa"})
    # Keys the host's `sshd -T` prints; decides build-optional directives.
    sshd_keys: frozenset[str] = frozenset()


_QUERY_FOR = {
    "KexAlgorithms": "kex",
    "Ciphers": "cipher",
    "MACs": "mac",
    "HostKeyAlgorithms": "key-sig",
}


def _crypto_for(name: str, caps: HostCapabilities) -> list[str]:
    known = caps.algorithms.get(_QUERY_FOR[name])
    chosen = []
    for alg in CRYPTO[name]:
        if known:
            if alg not in known:
                continue
        elif caps.version < ALGORITHM_SINCE[alg]:
            continue
        if name == "HostKeyAlgorithms" and HOST_KEY_TYPE[alg] not in caps.host_key_types:
            continue
        chosen.append(alg)
    return chosen


def desired_settings(
    request: Request, caps: HostCapabilities, client_algorithms: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """Directive -> value to write for this host, in a stable order.

    Raises ValueError_ naming the directive when an override does not exist in the host's
    OpenSSH, or when no algorithm would be left that our own client speaks.
    """
    settings = dict(_BASELINE if request.profile == "baseline" else _MINIMAL)
    if request.profile == "baseline":
        for name in CRYPTO:
            chosen = _crypto_for(name, caps)
            if not set(chosen) & set(client_algorithms.get(name, ())):
                raise ValueError_(
                    f"{name}: none of the hardened choices is known to both this host's "
                    f"OpenSSH {format_version(caps.version)} and our client; "
                    f"set one explicitly with --set {name}=..."
                )
            settings[name] = ",".join(chosen)
    for name, value in request.overrides.items():
        directive = lookup(name)
        if directive is None:  # validate_request reports these; be safe if it was skipped
            raise ValueError_(f"{name}: unknown sshd directive")
        # Distributions backport options (Rocky 9's 8.7 has RequiredRSASize): what the host's
        # sshd -T prints is known to it, whatever its version says.
        if not directive.known_in(caps.version) and directive.key not in caps.sshd_keys:
            raise ValueError_(
                f"{directive.name}: not supported by the host's OpenSSH "
                f"{format_version(caps.version)} ({_version_range(directive)}); "
                "remove this override"
            )
        settings[directive.name] = directive.normalize(value)
        lockout = crypto_lockout(directive.name, settings[directive.name], client_algorithms)
        if lockout:
            raise ValueError_(lockout)
    return _fit_to_version(settings, caps, explicit=set(request.overrides))


def _version_range(d: Directive) -> str:
    if d.until is not None:
        return f"removed in OpenSSH {format_version(d.until)}"
    return f"added in OpenSSH {format_version(d.since)}"


def _fit_to_version(
    settings: dict[str, str], caps: HostCapabilities, explicit: set[str]
) -> dict[str, str]:
    """Drop or translate profile directives this host's OpenSSH does not have."""
    out: dict[str, str] = {}
    explicit_keys = {name.lower() for name in explicit}
    for name, value in settings.items():
        directive = CATALOGUE[name.lower()]
        if directive.build_optional and caps.sshd_keys and directive.key not in caps.sshd_keys:
            if directive.key in explicit_keys:
                raise ValueError_(
                    f"{directive.name}: this host's sshd was built without it; remove this override"
                )
            continue
        if not directive.known_in(caps.version) and directive.key not in caps.sshd_keys:
            continue
        out[name] = value
    kbd = out.get("KbdInteractiveAuthentication")
    if caps.version < (8, 7):
        # Before 8.7 ChallengeResponseAuthentication was its own switch: close both doors.
        if kbd is not None and "ChallengeResponseAuthentication" not in out:
            out["ChallengeResponseAuthentication"] = kbd
    elif "ChallengeResponseAuthentication" in out:
        # From 8.7 it is an alias; write the real name so `sshd -T` shows what we wrote. An
        # explicit --set of the alias beats the profile's KbdInteractiveAuthentication.
        alias = out.pop("ChallengeResponseAuthentication")
        if "challengeresponseauthentication" in explicit_keys or kbd is None:
            out["KbdInteractiveAuthentication"] = alias
    return out
