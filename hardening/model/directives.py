"""The sshd directives hardened-ecs understands: value syntax, OpenSSH versions, canonical form.

Pure data plus small validators. Every value a user can pass with `--set` goes through
`Directive.normalize`, which rejects malformed values and returns the form we write into the
configuration; `Directive.comparable` returns the form `sshd -T` prints, so that "wanted" and
"effective" compare without guessing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

Version = tuple[int, int]

# Directives that belong to the host, never to us: changing them could move or close the
# door we came in through, so `--set` refuses them and the edit keeps them working. Port is
# the one door we move, as a transaction of its own (planning/port.py).
HOST_OWNED = frozenset(
    {
        "listenaddress",
        "include",
        "match",
        "subsystem",
        "hostkey",
        "pidfile",
        "addressfamily",
    }
)


class BadValue(ValueError):
    """A malformed value; the message says what is expected."""


def _yes_no(value: str) -> str:
    v = value.strip().lower()
    if v not in ("yes", "no"):
        raise BadValue("expected yes or no")
    return v


def _choice(*allowed: str, aliases: dict[str, str] | None = None) -> Callable[[str], str]:
    def check(value: str) -> str:
        v = value.strip().lower()
        v = (aliases or {}).get(v, v)
        if v not in allowed:
            raise BadValue("expected one of " + ", ".join(allowed))
        return v

    return check


# Digits beyond this are refused before int(): a 5,000-digit value is bad input, not a crash.
_DIGITS = r"\d{1,9}"


def _int_range(low: int, high: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        v = value.strip()
        if not re.fullmatch(_DIGITS, v) or not low <= int(v) <= high:
            raise BadValue(f"expected a whole number from {low} to {high}")
        return str(int(v))

    return check


_TIME_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _time(high: int) -> Callable[[str], str]:
    """sshd time format (30, 30s, 2m, 1h30m); written and compared in seconds."""

    def check(value: str) -> str:
        v = value.strip().lower()
        parts = re.findall(r"(\d+)([smhdw]?)", v)
        if not v or "".join(n + u for n, u in parts) != v:
            raise BadValue("expected a time such as 30, 30s, 2m or 1h")
        if any(not re.fullmatch(_DIGITS, n) for n, _ in parts):
            raise BadValue(f"expected at most {high} seconds")
        seconds = sum(int(n) * _TIME_UNITS[u] for n, u in parts)
        if seconds > high:
            raise BadValue(f"expected at most {high} seconds")
        return str(seconds)

    return check


def _max_startups(value: str) -> str:
    """start:rate:full; a single N is start=full=N, which sshd -T prints as N:30:N."""
    v = value.strip()
    m = re.fullmatch(rf"({_DIGITS})(?::({_DIGITS}):({_DIGITS}))?", v)
    if not m:
        raise BadValue("expected start:rate:full such as 10:30:60, or a number")
    start = int(m.group(1))
    rate, full = (int(m.group(2)), int(m.group(3))) if m.group(2) is not None else (30, start)
    # sshd refuses rate 0 and start 0 (or, on older versions, takes 0 as "drop everything").
    if not (0 < start <= full and 0 < rate <= 100):
        raise BadValue("expected 0 < start <= full and 1 <= rate <= 100, such as 10:30:60")
    return f"{start}:{rate}:{full}"


_ALG_NAME = re.compile(r"[A-Za-z0-9@._+-]+")


def _alg_list(value: str) -> str:
    v = value.strip()
    if v[:1] in "+-^":
        # Relative lists depend on the host's defaults; we want a list we can verify.
        raise BadValue("expected an explicit comma-separated list (no +, - or ^ prefix)")
    names = v.split(",")
    if not v or not all(_ALG_NAME.fullmatch(n) for n in names):
        raise BadValue("expected a comma-separated list of algorithm names")
    return v


_USER_PATTERN = re.compile(r"[A-Za-z0-9._*?!@%/:\[\]-]+")


def _name_list(value: str) -> str:
    names = value.split()
    if not names or not all(_USER_PATTERN.fullmatch(n) for n in names):
        raise BadValue("expected space-separated user or group patterns")
    return " ".join(names)


_AUTH_METHODS = {
    "publickey",
    "password",
    "keyboard-interactive",
    "hostbased",
    "gssapi-with-mic",
    "keyboard-interactive:pam",
    "keyboard-interactive:bsdauth",
}


def _auth_methods(value: str) -> str:
    lists = value.split()
    if lists == ["any"]:
        return "any"
    for item in lists:
        if not item or not all(m in _AUTH_METHODS for m in item.split(",")):
            raise BadValue(
                "expected 'any' or comma-separated lists of: " + ", ".join(sorted(_AUTH_METHODS))
            )
    return " ".join(lists)


def _path_or_none(value: str) -> str:
    v = value.strip()
    if v.lower() == "none":
        return "none"
    if not v.startswith("/") or any(c.isspace() for c in v):
        raise BadValue("expected an absolute path without spaces, or none")
    return v


# sshd expands only these in AuthorizedKeysFile; '#' and quotes change how it splits the line.
_KEY_FILE = re.compile(r"(?:[A-Za-z0-9._/@+=:,-]|%[%hUu])+")


def _paths(value: str) -> str:
    items = value.split()
    if len(items) == 1 and items[0].lower() == "none":
        return "none"  # well-formed; _lockout_problems in desired refuses it
    if not items or not all(_KEY_FILE.fullmatch(i) for i in items):
        raise BadValue(
            "expected one or more paths (absolute, or relative to the home), without quotes, "
            "'#' or spaces inside a path; tokens %h, %u, %U and %% only"
        )
    return " ".join(items)


# sshd sends the banner to every client before it logs in: a public text, never a secret
# file. Only the usual pre-login texts, or a file named for it in /etc or /etc/ssh (both
# root's own directories, so nobody else can put a link there).
_BANNER_FILES = ("/etc/issue", "/etc/issue.net")
_BANNER_NAMED = re.compile(r"/etc/(?:ssh/)?[A-Za-z0-9._-]*banner[A-Za-z0-9._-]*")
BANNER_RULE = (
    "expected none, /etc/issue, /etc/issue.net, or a file in /etc or /etc/ssh with 'banner' "
    "in its name (e.g. /etc/ssh/sshd-banner): sshd shows it to every client before login, so "
    "it must be a public text, never a secret such as /etc/shadow or a host key"
)


def banner_on_host_problem(path: str, status: str | None) -> str | None:
    """The Banner file as the host has it ("file MODE UID", "link", ...): a plain public file?"""
    fix = "make it a regular file owned by root and readable by everyone (mode 644)"
    kind, _, rest = (status or "missing").partition(" ")
    mode, _, uid = rest.partition(" ")
    if kind == "file" and mode.isdigit() and int(mode, 8) & 0o004 and uid == "0":
        return None
    why = {
        "link": "is a symbolic link (sshd would show whatever it points to)",
        "missing": "does not exist on the host",
        "not-regular": "is not a regular file",
    }.get(kind)
    if why is None:
        why = (
            "is not owned by root (whoever owns it decides what every client sees)"
            if uid != "0"
            else "is not readable by everyone (a private file is not a public text)"
        )
    return f"Banner={path}: the file {why}; {fix}, or choose another file"


def _banner(value: str) -> str:
    v = _path_or_none(value)
    if v == "none" or v in _BANNER_FILES:
        return v
    if not _BANNER_NAMED.fullmatch(v) or "key" in v.lower() or ".." in v:
        raise BadValue(BANNER_RULE)
    return v


def _log_level(value: str) -> str:
    v = value.strip().upper()
    allowed = ("QUIET", "FATAL", "ERROR", "INFO", "VERBOSE", "DEBUG", "DEBUG1", "DEBUG2", "DEBUG3")
    if v not in allowed:
        raise BadValue("expected one of " + ", ".join(allowed))
    return v


@dataclass(frozen=True)
class Directive:
    name: str  # canonical spelling, as written into the configuration
    normalize: Callable[[str], str]
    since: Version = (0, 0)
    until: Version | None = None  # first version that no longer knows it
    # Compiled in only on some builds (GSSAPI, Kerberos, Debian patches): we set it only
    # where the host's `sshd -T` prints it.
    build_optional: bool = False
    multi_line: bool = False  # `sshd -T` prints one line per item (AllowUsers a / AllowUsers b)
    # Values sshd -T prints under another name (PermitRootLogin prohibit-password prints as
    # without-password; AllowTcpForwarding all prints as yes): folded before comparing.
    same_as: tuple[tuple[str, str], ...] = ()
    case_sensitive: bool = False  # paths and user names: `Banner /etc/Issue` is another file

    @property
    def key(self) -> str:
        """The lower-case key `sshd -T` prints (OpenSSH >= 10.4 prints MixedCase: we fold)."""
        return self.name.lower()

    def known_in(self, version: Version) -> bool:
        return self.since <= version and (self.until is None or version < self.until)

    def comparable(self, value: str) -> str:
        """A wanted value in the folded form `sshd -T` would show it (compare with `fold`)."""
        return self.fold(self.normalize(value))

    def fold(self, printed: str) -> str:
        """A value as printed by `sshd -T` (or normalized), in the form we compare."""
        v = " ".join(printed.split())
        if not self.case_sensitive:
            v = v.lower()
        return dict(self.same_as).get(v, v)


_D = Directive

CATALOGUE: dict[str, Directive] = {
    d.key: d
    for d in [
        # Authentication
        _D(
            "PermitRootLogin",
            _choice(
                "yes",
                "no",
                "prohibit-password",
                "forced-commands-only",
                aliases={"without-password": "prohibit-password"},
            ),
            same_as=(("without-password", "prohibit-password"),),
        ),
        _D("PasswordAuthentication", _yes_no),
        _D("KbdInteractiveAuthentication", _yes_no),
        # An alias of KbdInteractiveAuthentication from 8.7; before that a separate switch.
        _D("ChallengeResponseAuthentication", _yes_no),
        _D("PubkeyAuthentication", _yes_no),
        _D("PermitEmptyPasswords", _yes_no),
        _D("AuthenticationMethods", _auth_methods, since=(6, 2)),
        _D("HostbasedAuthentication", _yes_no),
        _D("IgnoreRhosts", _choice("yes", "no", "shosts-only")),
        _D("GSSAPIAuthentication", _yes_no, build_optional=True),
        _D("KerberosAuthentication", _yes_no, build_optional=True),
        _D("UsePAM", _yes_no, build_optional=True),
        _D("AuthorizedKeysFile", _paths, case_sensitive=True),
        _D("PubkeyAcceptedAlgorithms", _alg_list, since=(8, 5)),
        _D("RequiredRSASize", _int_range(1024, 16384), since=(9, 1)),
        # Limits
        _D("MaxAuthTries", _int_range(1, 100)),
        _D("LoginGraceTime", _time(3600)),
        _D("MaxStartups", _max_startups),
        # 0 would refuse every shell, ours included.
        _D("MaxSessions", _int_range(1, 1000)),
        _D("ClientAliveInterval", _time(86400)),
        _D("ClientAliveCountMax", _int_range(0, 100)),
        # Forwarding and environment
        _D("X11Forwarding", _yes_no),
        _D(
            "AllowTcpForwarding",
            _choice("yes", "no", "all", "local", "remote"),
            same_as=(("all", "yes"),),
        ),
        _D("AllowAgentForwarding", _yes_no),
        _D(
            "AllowStreamLocalForwarding",
            _choice("yes", "no", "all", "local", "remote"),
            same_as=(("all", "yes"),),
        ),
        _D("PermitTunnel", _choice("yes", "no", "point-to-point", "ethernet")),
        _D("GatewayPorts", _choice("yes", "no", "clientspecified")),
        _D("DisableForwarding", _yes_no, since=(7, 4)),
        _D("PermitUserEnvironment", _yes_no),
        # Logging and misc
        _D("LogLevel", _log_level),
        _D("StrictModes", _yes_no),
        _D("UseDNS", _yes_no),
        _D("Compression", _choice("yes", "no", "delayed", aliases={"delayed": "yes"})),
        _D("PrintMotd", _yes_no),
        _D("PrintLastLog", _yes_no),
        _D("Banner", _banner, case_sensitive=True),
        # The one port sshd listens on; cumulative in sshd, so the plan leaves only ours.
        _D("Port", _int_range(1, 65535)),
        # Access lists
        _D("AllowUsers", _name_list, multi_line=True, case_sensitive=True),
        _D("AllowGroups", _name_list, multi_line=True, case_sensitive=True),
        _D("DenyUsers", _name_list, multi_line=True, case_sensitive=True),
        _D("DenyGroups", _name_list, multi_line=True, case_sensitive=True),
        # Crypto
        _D("KexAlgorithms", _alg_list),
        _D("Ciphers", _alg_list),
        _D("MACs", _alg_list),
        _D("HostKeyAlgorithms", _alg_list),
        # Options older OpenSSH knew and newer ones reject: listed so that `--set` of them
        # fails with "removed in X" on the host instead of "unknown".
        _D("UseLogin", _yes_no, until=(7, 4)),
        _D("UsePrivilegeSeparation", _choice("yes", "no", "sandbox"), until=(7, 5)),
        _D("Protocol", _choice("2"), until=(7, 6)),
    ]
}


def lookup(name: str) -> Directive | None:
    return CATALOGUE.get(name.strip().lower())


def format_version(version: Version) -> str:
    return f"{version[0]}.{version[1]}"
