"""The desired state of one host: the profile's settings and overrides, fitted to its OpenSSH.

Like the Ansible role's defaults, this module is data plus the rules for picking from it. It
knows nothing about a particular host beyond the facts it is handed (version, the algorithms the
host's OpenSSH knows, its host key types). The data is in hardening.model.profiles; what a request
may ask for is checked in hardening.model.validation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hardening.model import validation
from hardening.model.capabilities import HostCapabilities
from hardening.model.directives import (
    CATALOGUE,
    BadValue,
    Directive,
    format_version,
    lookup,
)
from hardening.model.profiles import (
    ALGORITHM_SINCE,
    CRYPTO,
    DEFAULT_PROFILE,
    HOST_KEY_TYPE,
    PROFILES,
    Request,
    profile_settings,
)

__all__ = [
    "ALGORITHM_SINCE",
    "CRYPTO",
    "DEFAULT_PROFILE",
    "PROFILES",
    "HostCapabilities",
    "Request",
    "desired_settings",
]


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

    Raises BadValue naming the directive when an override does not exist in the host's
    OpenSSH, or when no algorithm would be left that our own client speaks.
    """
    settings = profile_settings(request.profile)
    if request.profile == "baseline":
        for name in CRYPTO:
            chosen = _crypto_for(name, caps)
            if not set(chosen) & set(client_algorithms.get(name, ())):
                raise BadValue(
                    f"{name}: none of the hardened choices is known to both this host's "
                    f"OpenSSH {format_version(caps.version)} and our client; "
                    f"set one explicitly with --set {name}=..."
                )
            settings[name] = ",".join(chosen)
    for name, value in request.overrides.items():
        directive = lookup(name)
        if directive is None:  # validate_request reports these; be safe if it was skipped
            raise BadValue(f"{name}: unknown sshd directive")
        # Distributions backport options (Rocky 9's 8.7 has RequiredRSASize): what the host's
        # sshd -T prints is known to it, whatever its version says.
        if not directive.known_in(caps.version) and directive.key not in caps.sshd_keys:
            raise BadValue(
                f"{directive.name}: not supported by the host's OpenSSH "
                f"{format_version(caps.version)} ({_version_range(directive)}); "
                "remove this override"
            )
        settings[directive.name] = directive.normalize(value)
        lockout = validation.crypto_lockout(
            directive.name, settings[directive.name], client_algorithms
        )
        if lockout:
            raise BadValue(lockout)
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
                raise BadValue(
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


def wanted_port(request: Request) -> int | None:
    """The Port the request sets (None: not set, or not a valid port: validation says so)."""
    for name, value in request.overrides.items():
        directive = lookup(name)
        if directive is not None and directive.name == "Port":
            try:
                return int(directive.normalize(value))
            except BadValue:
                return None
    return None
