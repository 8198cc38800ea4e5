"""What each distribution's facts must yield, read from SLUG/expect.yaml (named fields).

A distribution is a folder beside its SLUG.txt; the folder's expect.yaml has exactly the fields
of `Expect`, each of its type. A missing, extra or mistyped field fails loading with the file
and the field named, before any test runs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hardening.model.directives import Version

EXPECT_FILE = "expect.yaml"


@dataclass(frozen=True)
class Expect:
    os_id: str
    os_version: str
    version: Version
    service: str  # ssh or sshd
    socket_activated: bool
    reload: str  # how the host reloads sshd (service_commands)
    restart: str
    crypto_policy_on_cmdline: bool  # RHEL 8 family: sshd started with -oCiphers=... etc.
    mode: str  # dropin or inplace
    recorded: bool  # debian-*: recorded by record_debian.py; the rest constructed (assemble.py)
    dropins: tuple[str, ...]  # file names in sshd_config.d, glob order
    permit_root_login: str  # as `sshd -T` prints it before hardening


_FIELDS = tuple(f.name for f in dataclasses.fields(Expect))
_BOOLS = {"socket_activated", "crypto_policy_on_cmdline", "recorded"}
_MODES = ("dropin", "inplace")


class ExpectError(ValueError):
    pass


def _field(path: Path, name: str, value: Any) -> Any:
    """One field checked against its type: a YAML `yes` or `9.4` never passes as a string."""

    def bad(want: str) -> ExpectError:
        return ExpectError(f"{path}: {name} must be {want}, not {value!r}: fix the file")

    if name in _BOOLS:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if name == "version":
        if not (isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value)):
            raise bad("[major, minor], two integers")
        return (value[0], value[1])
    if name == "dropins":
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise bad("a list of file names (quoted strings)")
        return tuple(value)
    if not isinstance(value, str):
        raise bad("a quoted string")
    if name == "mode" and value not in _MODES:
        raise bad(" or ".join(_MODES))
    return value


def load_expect(path: Path) -> Expect:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ExpectError(f"{path}: must be a mapping of {', '.join(_FIELDS)}")
    missing = [f for f in _FIELDS if f not in data]
    extra = sorted(str(k) for k in data if k not in _FIELDS)
    if missing or extra:
        raise ExpectError(
            f"{path}: fields must be exactly those of Expect (missing: {', '.join(missing) or '-'};"
            f" unknown: {', '.join(extra) or '-'}): fix the file"
        )
    return Expect(**{name: _field(path, name, data[name]) for name in _FIELDS})


def load_all(facts_dir: Path) -> dict[str, Expect]:
    """Every distribution folder's expectations by slug, in name order."""
    return {p.parent.name: load_expect(p) for p in sorted(facts_dir.glob(f"*/{EXPECT_FILE}"))}
