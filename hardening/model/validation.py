"""Every rule for what an operator gives, once: checked without the host, returned as Problems.

The CLI, the fleet inventory, the stack config and the Pulumi provider all ask here and map
each Problem to their own vocabulary (a flag, an inventory field, a config key, a provider
property) by its `key`, never by its text.

Problem keys (stable; an adapter maps them, so a new key is an API change):
  host, port, user, identity, passphrase_env, host_key_fingerprint   - the target
  confirm_timeout, wait, command_timeout, parallel                  - timing and fleet size
  admin_user, profile                                               - the request
  overrides              - a malformed `Directive=value` item (before any directive is known)
  overrides.<Directive>  - one override: the directive's canonical name when it is known, as
                           given otherwise; a lockout names the override that causes it

`code` says what kind of problem it is, for adapters that word them their own way:
  missing (required, not given), invalid (wrong shape or value), range (outside its bounds),
  unset (names an environment variable that is not set).

`message` is complete on its own (what today's operators read); for the target and timing
rules it leaves out the input's name and value, which each adapter writes in its own words.
`fix` is the remedy alone, for adapters that print their own fix line ("" when the message
is the whole story).
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from hardening.model import defaults
from hardening.model.directives import CATALOGUE, HOST_OWNED, BadValue, lookup
from hardening.model.profiles import CRYPTO, DEFAULT_PROFILE, PROFILES, Request, profile_settings

# --- shapes -------------------------------------------------------------------------------

HOST = re.compile(r"[A-Za-z0-9._:-]+")  # a name, IPv4 or bare IPv6 (no [brackets])
# The provider's host also takes a [bracketed] IPv6 address, as cloud outputs may carry.
HOST_OR_BRACKETED = re.compile(r"[A-Za-z0-9._:\-\[\]]+")
LOGIN = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")  # a user to log in as (Debian allows dots)
# The admin user is created by us (useradd): the portable subset, no dots.
ADMIN_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}=?")
NOT_A_HOST = "not a host name or IP address"
NOT_A_LOGIN = "not a valid login name"
FINGERPRINT_HINT = (
    "expected SHA256:<43 base64 characters>, as `ssh-keygen -lf "
    "/etc/ssh/ssh_host_ed25519_key.pub` prints on the host"
)

# Inclusive bounds of the numbers an operator gives.
PORTS = (1, 65535)
CONFIRM_TIMEOUTS = (10, 3600)  # seconds
WAITS = (0, 86400)  # seconds
COMMAND_TIMEOUTS = (30, 3600)  # seconds
PARALLEL = (1, 200)  # hosts at once

DEFAULT_ADMIN_USER = defaults.ADMIN_USER

# Accounts that exist on Debian/Ubuntu/RHEL-family images and Alibaba's own images: a daemon's
# account, or an image's default user that someone else may already use.
SYSTEM_ACCOUNTS = frozenset(
    {
        *("root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp"),
        *("proxy", "www-data", "backup", "list", "irc", "gnats", "nobody", "sshd", "messagebus"),
        *("syslog", "admin", "ubuntu", "debian", "ecs-user", "ecs-assist-user"),
        *("adm", "halt", "shutdown", "operator", "ftp", "systemd-network", "polkitd", "chrony"),
    }
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input named by `key` (see the module docstring)."""

    key: str
    message: str
    fix: str = ""
    code: str = "invalid"


def shown(value: str, limit: int = 80) -> str:
    """repr() of a value for a message, cut short: bad input is named, never echoed whole."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[: limit - 20]!r}... ({len(value)} characters)"


# --- the target ---------------------------------------------------------------------------


def target_problems(
    host: object,
    port: object,
    user: object,
    identity: object = "",
    host_key_fingerprint: object = None,
) -> list[Problem]:
    """The address, port, login and key file of one host; None/"" means not given.

    `identity` is only checked for being given (the file is read when the key is loaded);
    pass a non-empty placeholder where the key comes from elsewhere. A missing host or user
    is code "missing"; a wrong one "invalid"; a port outside PORTS (or not a number) "range".
    """
    problems = []
    if host is None or host == "":
        problems.append(Problem("host", "a host name or IP address", code="missing"))
    elif not isinstance(host, str) or not HOST.fullmatch(host):
        problems.append(Problem("host", NOT_A_HOST))
    if not isinstance(port, int) or isinstance(port, bool) or not PORTS[0] <= port <= PORTS[1]:
        problems.append(Problem("port", f"must be from {PORTS[0]} to {PORTS[1]}", code="range"))
    if not isinstance(user, str) or not user:
        problems.append(Problem("user", "a login name", code="missing"))
    elif not LOGIN.fullmatch(user):
        problems.append(Problem("user", NOT_A_LOGIN))
    if not isinstance(identity, str) or not identity:
        problems.append(Problem("identity", "the private key to log in with", code="missing"))
    if host_key_fingerprint is not None and not (
        isinstance(host_key_fingerprint, str) and FINGERPRINT.fullmatch(host_key_fingerprint)
    ):
        problems.append(Problem("host_key_fingerprint", FINGERPRINT_HINT))
    return problems


def passphrase_problems(name: str | None, environ: Mapping[str, str]) -> list[Problem]:
    """The environment variable that holds the key's passphrase must be set (when named)."""
    if name and name not in environ:
        return [Problem("passphrase_env", "that variable is not set", code="unset")]
    return []


def timing_problems(
    confirm_timeout: float, wait: float, command_timeout: float, parallel: int = 1
) -> list[Problem]:
    """Timeouts and fleet size, each within its bounds (code "range")."""
    checks = (
        ("confirm_timeout", confirm_timeout, CONFIRM_TIMEOUTS, " seconds"),
        ("wait", wait, WAITS, " seconds"),
        ("command_timeout", command_timeout, COMMAND_TIMEOUTS, " seconds"),
        ("parallel", parallel, PARALLEL, ""),
    )
    return [
        Problem(key, f"must be from {low} to {high}{unit}", code="range")
        for key, value, (low, high), unit in checks
        if not low <= value <= high
    ]


# --- the request --------------------------------------------------------------------------


def profile_problems(profile: object) -> list[Problem]:
    """The profile must be one of PROFILES."""
    if profile in PROFILES:
        return []
    fix = f"use one of {', '.join(PROFILES)} (e.g. --profile {DEFAULT_PROFILE})"
    return [Problem("profile", f"profile {profile!r} is unknown: {fix}", fix)]


def admin_name_problem(name: str) -> str | None:
    """Why `name` cannot be the admin user (None: it can). Host-independent."""
    if name == "root":
        return "it must be a login name other than root (the hardening closes root's login)"
    if not ADMIN_NAME.fullmatch(name):
        return (
            "it must be a login name other than root (lower-case letters, digits, _ or -, "
            "starting with a letter or _, at most 32)"
        )
    if name in SYSTEM_ACCOUNTS:
        return "it is a system or image account (it already exists for another purpose)"
    return None


def parse_set_items(items: Iterable[str]) -> tuple[dict[str, str], list[Problem]]:
    """`Directive=value` items (`--set`) into a dict; the first malformed one is a Problem.

    A directive given twice is one too: which value was meant (`--set Port=2222 --set
    Port=2200`) is not ours to guess.
    """
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            message = f"--set {shown(item)}: expected Directive=value, e.g. --set MaxAuthTries=3"
            return {}, [Problem("overrides", message, "e.g. --set MaxAuthTries=3")]
        earlier = next((n for n in out if n.lower() == name.strip().lower()), None)
        if earlier is not None:
            fix = "give it once"
            message = (
                f"--set {earlier[:40]}: given twice ({shown(out[earlier])}, then "
                f"{shown(value.strip())}); {fix}"
            )
            return {}, [Problem(f"overrides.{earlier}", message, fix)]
        out[name.strip()] = value.strip()
    return out, []


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


def client_algorithms() -> Mapping[str, Sequence[str]]:
    """What our own SSH client speaks (paramiko: imported only when a crypto list is checked)."""
    from hardening.model.client import CLIENT_ALGORITHMS

    return CLIENT_ALGORITHMS


def crypto_lockout(name: str, value: str, client: Mapping[str, Sequence[str]]) -> str | None:
    """A crypto list with nothing our own client speaks would lock hardened-ecs out."""
    if name not in CRYPTO or set(value.split(",")) & set(client.get(name, ())):
        return None
    return (
        f"{name}={shown(value)}: hardened-ecs (paramiko) speaks none of these, so it could not "
        f"verify its own change; include one of: {', '.join(client.get(name, ()))}"
    )


@dataclass(frozen=True)
class CheckedRequest:
    """A request as validated: its problems, and its overrides normalised once.

    `normalized` maps each known directive's canonical name to its normalised value (the
    ones with a bad value are left out); `request` is what the operator asked for, as given.
    """

    request: Request
    normalized: Mapping[str, str]
    problems: tuple[Problem, ...]


def validate_request(
    request: Request, client: Mapping[str, Sequence[str]] | None = None
) -> CheckedRequest:
    """Host-independent problems with a request, each naming the setting and the fix.

    `client` is what our SSH client speaks (client_algorithms()); looked up only when a crypto
    list is overridden and it was not passed.
    """
    problems: list[Problem] = []
    profile, admin_user = request.profile, request.admin_user
    problems.extend(profile_problems(profile))
    admin_problem = admin_name_problem(admin_user)
    if admin_problem:
        problems.append(
            Problem(
                "admin_user",
                f"admin user {admin_user!r} is not usable: {admin_problem}, e.g. --admin-user ops",
                "e.g. --admin-user ops",
            )
        )
    normalized: dict[str, str] = {}
    given: dict[str, str] = {}
    for name, value in request.overrides.items():
        key = name.strip().lower()
        if key in HOST_OWNED:
            fix = "remove this override"
            message = (
                f"{name}: is the host's own setting and is not managed by hardened-ecs "
                f"(it is kept as it is); {fix}"
            )
            problems.append(Problem(f"overrides.{name}", message, fix))
            continue
        directive = lookup(name)
        if directive is None:
            close = difflib.get_close_matches(
                name, [d.name for d in CATALOGUE.values()], n=1, cutoff=0.6
            )
            hint = f" (did you mean {close[0]}?)" if close else ""
            fix = "remove it or fix its spelling"
            message = f"{name}: unknown sshd directive{hint}; {fix}"
            problems.append(Problem(f"overrides.{name}", message, fix))
            continue
        where = f"overrides.{directive.name}"
        if directive.name in given:  # `Port` and `port` in one mapping: which one is meant?
            fix = "give it once"
            message = (
                f"{directive.name}: given twice ({shown(given[directive.name])}, then "
                f"{shown(value)}); {fix}"
            )
            problems.append(Problem(where, message, fix))
            continue
        given[directive.name] = value
        try:
            normalized[directive.name] = directive.normalize(value)
        except BadValue as exc:
            problems.append(Problem(where, f"{directive.name}={shown(value)}: {exc}"))
            continue
        if directive.name in CRYPTO:
            client = client or client_algorithms()
            lockout = crypto_lockout(directive.name, normalized[directive.name], client)
            if lockout:
                problems.append(
                    Problem(
                        where,
                        lockout,
                        f"include one of: {', '.join(client.get(directive.name, ()))}",
                    )
                )
    problems.extend(_lockout_problems(profile, normalized, admin_user))
    return CheckedRequest(request, normalized, tuple(problems))


def _lockout_problems(profile: str, overrides: Mapping[str, str], admin_user: str) -> list[Problem]:
    """Combinations that would let nobody (and so not us) back in."""
    combined = {**profile_settings(profile), **overrides}
    problems = []
    if combined.get("PubkeyAuthentication") == "no":
        both_off = combined.get("PasswordAuthentication") == "no"
        what = "with passwords off nobody can log in" if both_off else "hardened-ecs logs in"
        fix = "keep PubkeyAuthentication=yes"
        message = f"PubkeyAuthentication=no: {what} with a key; {fix}"
        problems.append(Problem("overrides.PubkeyAuthentication", message, fix))
    methods = combined.get("AuthenticationMethods")
    if methods and methods != "any" and "publickey" not in methods.split():
        fix = "include 'publickey' as one of the lists"
        message = (
            f"AuthenticationMethods={methods!r}: no list lets a key alone in, so hardened-ecs "
            f"could not verify its own change; {fix}"
        )
        problems.append(Problem("overrides.AuthenticationMethods", message, fix))
    if combined.get("AuthorizedKeysFile") == "none":
        fix = "keep .ssh/authorized_keys in the list"
        message = (
            "AuthorizedKeysFile='none': no user could log in with a key, hardened-ecs "
            f"included; {fix}"
        )
        problems.append(Problem("overrides.AuthorizedKeysFile", message, fix))
    allow, deny = overrides.get("AllowUsers"), overrides.get("DenyUsers")
    if not _user_allowed(admin_user, allow, deny):
        fix = f"add {admin_user} to AllowUsers (and keep it out of DenyUsers)"
        message = f"AllowUsers/DenyUsers: the admin user {admin_user!r} would be refused; {fix}"
        # Name the list that refuses: DenyUsers wins over AllowUsers in sshd, so look there first.
        denied = deny is not None and not _user_allowed(admin_user, None, deny)
        key = "overrides.DenyUsers" if denied or allow is None else "overrides.AllowUsers"
        problems.append(Problem(key, message, fix))
    return problems


def own_key_problems(
    overrides: Mapping[str, str], key_algorithms: Sequence[str], key_rsa_bits: int | None
) -> list[Problem]:
    """Overrides that would refuse the very key hardened-ecs logs in with (and installs)."""
    problems = []
    values = {}
    for name, value in overrides.items():
        directive = lookup(name)
        if directive is not None:
            try:
                values[directive.name] = directive.normalize(value)
            except BadValue:
                continue  # validate_request reports it
    accepted = values.get("PubkeyAcceptedAlgorithms")
    if accepted and not set(accepted.split(",")) & set(key_algorithms):
        fix = f"include one of: {', '.join(key_algorithms)}"
        message = (
            f"PubkeyAcceptedAlgorithms={shown(accepted)}: the key hardened-ecs logs in with "
            f"({key_algorithms[0]}) would be refused, and nobody could verify the change; {fix}"
        )
        problems.append(Problem("overrides.PubkeyAcceptedAlgorithms", message, fix))
    required = values.get("RequiredRSASize")
    if required and key_rsa_bits is not None and key_rsa_bits < int(required):
        fix = f"use at most {key_rsa_bits}, or log in with a larger (or an ECDSA/Ed25519) key"
        message = (
            f"RequiredRSASize={required}: the RSA key hardened-ecs logs in with has "
            f"{key_rsa_bits} bits and would be refused; {fix}"
        )
        problems.append(Problem("overrides.RequiredRSASize", message, fix))
    return problems
