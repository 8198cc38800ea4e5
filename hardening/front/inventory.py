"""The fleet's inventory: a YAML list of hosts, read safely and checked whole before any host.

Every problem names the entry and the key (`hosts.yaml: hosts[2].port: ...`), in the
inventory's words; the rules themselves are hardening.model.validation's.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from hardening.front.display import printable
from hardening.model import defaults, validation
from hardening.model.errors import UsageError
from hardening.model.profiles import DEFAULT_PLACEMENT, PLACEMENTS, PROFILES, Request
from hardening.model.values import directive_text

_HOST_KEYS = {
    "name", "host", "port", "user", "identity", "passphrase_env", "admin_user", "profile", "set",
    "known_hosts", "accept_new_host_key", "host_key_fingerprint", "adopt_admin_user", "placement",
}  # fmt: skip


# An inventory is a list of hosts written by people: a few hundred KB at most.
MAX_INVENTORY_BYTES = 4 * 1024 * 1024
# YAML aliases (*name) let a small file stand for an enormous one ("billion laughs"): the
# loaded data shares the repeated parts, but anything that walks it (a message, a merge)
# would not. Counted as walked, an inventory has a few values per host.
MAX_VALUES = 200_000


def _walked_size(data: object) -> int:
    """How many values walking `data` would visit (shared parts counted each time)."""
    memo: dict[int, int] = {}
    active: set[int] = set()

    def size(value: object) -> int:
        if not isinstance(value, list | dict):
            return 1
        key = id(value)
        if key in memo:
            return memo[key]
        if key in active:
            raise UsageError("it refers to itself (a YAML alias inside its own anchor)")
        active.add(key)
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        total = 1
        for item in items:
            total += size(item)
            if total > MAX_VALUES:
                break
        active.discard(key)
        memo[key] = total
        return total

    return size(data)


_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = 60
_SHOW.maxlevel, _SHOW.maxlist, _SHOW.maxdict = 2, 4, 4


def _shown(value: object) -> str:
    """A value from the inventory in a message: bounded however large it is."""
    return _SHOW.repr(value)


def _cut(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass(frozen=True)
class HostEntry:
    name: str | None  # what progress lines and the table call it (default: host:port)
    host: str
    port: int
    user: str
    identity: str
    passphrase_env: str | None
    request: Request
    known_hosts: str
    accept_new_host_key: bool
    host_key_fingerprint: str | None


def load_inventory(path: str, defaults: Mapping[str, Any]) -> list[HostEntry]:
    """Parse and validate the whole inventory; raise UsageError listing every problem."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_INVENTORY_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"--inventory {path}: cannot read it ({exc.strerror})") from None
    if len(raw) > MAX_INVENTORY_BYTES:
        raise UsageError(
            f"--inventory {path}: larger than {MAX_INVENTORY_BYTES // (1024 * 1024)} MiB; "
            "split the fleet into several inventories"
        )
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise UsageError(f"--inventory {path}: not valid YAML ({_cut(str(exc))})") from None
    try:
        if _walked_size(data) > MAX_VALUES:
            raise UsageError(
                f"it stands for more than {MAX_VALUES} values (YAML aliases within aliases)"
            )
    except UsageError as exc:
        raise UsageError(
            f"--inventory {path}: not usable: {exc}; write the hosts out without nested aliases"
        ) from None
    if isinstance(data, list):
        data = {"hosts": data}
    if not isinstance(data, dict) or not isinstance(data.get("hosts"), list) or not data["hosts"]:
        raise UsageError(
            f"--inventory {path}: expected a list of hosts, or a mapping with `hosts:` "
            "(and optional `defaults:`)"
        )
    unknown_top = set(data) - {"hosts", "defaults"}
    names = sorted(_cut(str(k), 60) for k in unknown_top)
    problems = [f"{path}: unknown key(s) {', '.join(names)}"] if unknown_top else []
    base = dict(defaults)
    file_defaults = data.get("defaults") or {}
    if not isinstance(file_defaults, dict):
        problems.append(f"{path}: defaults must be a mapping")
        file_defaults = {}
    problems += [
        f"{path}: defaults.{_cut(str(k), 60)}: unknown key" for k in set(file_defaults) - _HOST_KEYS
    ]
    if "name" in file_defaults:
        problems.append(f"{path}: defaults.name: a name belongs to one host; give it in its entry")
    base.update({k: v for k, v in file_defaults.items() if k not in ("set", "name")})
    base["set"] = _merge_set(
        base.get("set", {}), file_defaults.get("set"), f"{path}: defaults", problems
    )

    entries: list[HostEntry] = []
    seen: set[tuple[str, int]] = set()  # host names compared as DNS does: case-blind
    for i, raw in enumerate(data["hosts"], start=1):
        item = {"host": raw} if isinstance(raw, str) else raw
        where = f"{path}: hosts[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: expected a host name or a mapping with `host:`")
            continue
        problems += [f"{where}.{_cut(str(k), 60)}: unknown key" for k in set(item) - _HOST_KEYS]
        merged = {**base, **{k: v for k, v in item.items() if k != "set"}}
        merged["set"] = _merge_set(base["set"], item.get("set"), where, problems)
        entry, errs = _entry(merged, where)
        problems += errs
        if entry is not None:
            if (entry.host.lower(), entry.port) in seen:
                problems.append(f"{where}: {entry.host}:{entry.port} is listed twice")
            seen.add((entry.host.lower(), entry.port))
            entries.append(entry)
    if problems:
        raise UsageError("\n".join(problems))
    return entries


def _merge_set(
    base: dict[str, Any], extra: object, where: str, problems: list[str]
) -> dict[str, Any]:
    """`set:` of an entry over its defaults; anything but a mapping is a problem."""
    if extra is None:
        return dict(base)
    if not isinstance(extra, dict):
        problems.append(f"{where}.set: must be a mapping of Directive: value")
        return dict(base)
    return {**base, **extra}


def _target_problems(m: dict[str, Any], where: str) -> tuple[bool, list[str]]:
    """validation's target rules in the inventory's words; True when the host itself is bad."""
    host, port = m.get("host"), m.get("port", 22)
    found = validation.target_problems(
        host, port, m.get("user"), m.get("identity"), m.get("host_key_fingerprint")
    )
    by_key = {p.key: p for p in found}
    bad_host = by_key.get("host")
    if bad_host is not None:
        if bad_host.code == "missing":
            return True, [f"{where}.host: required (a host name or IP address)"]
        return True, [f"{where}.host: {_shown(host)} is {bad_host.message}"]
    problems = []
    if "port" in by_key:
        low, high = validation.PORTS
        problems.append(f"{where}.port: {_shown(port)} must be a number from {low} to {high}")
    for key in ("user", "identity"):
        if key in by_key and by_key[key].code == "missing":
            problems.append(f"{where}.{key}: required (in the entry, defaults:, or --{key})")
    user = m.get("user")
    if isinstance(user, str) and not validation.LOGIN.fullmatch(user):  # "" is both
        problems.append(f"{where}.user: {_shown(user)} is {validation.NOT_A_LOGIN}")
    bad_fingerprint = by_key.get("host_key_fingerprint")
    if bad_fingerprint is not None:
        shown = _shown(m["host_key_fingerprint"])
        problems.append(f"{where}.host_key_fingerprint: {shown}: {bad_fingerprint.message}")
    return False, problems


def _entry(m: dict[str, Any], where: str) -> tuple[HostEntry | None, list[str]]:
    bad_host, problems = _target_problems(m, where)
    if bad_host:
        return None, problems
    for flag in ("accept_new_host_key", "adopt_admin_user"):
        if not isinstance(m.get(flag, False), bool):
            problems.append(f"{where}.{flag}: must be true or false (not quoted)")
    for key in ("name", "passphrase_env", "known_hosts", "admin_user"):
        if m.get(key) is not None and not isinstance(m[key], str):
            problems.append(f"{where}.{key}: must be a string")
    profile = m.get("profile", "baseline")
    if validation.profile_problems(profile):
        problems.append(f"{where}.profile: {_shown(profile)} is not one of {', '.join(PROFILES)}")
    placement = m.get("placement", DEFAULT_PLACEMENT)
    if placement not in PLACEMENTS:
        shown = _shown(placement)
        problems.append(f"{where}.placement: {shown} is not one of {', '.join(PLACEMENTS)}")
    overrides: dict[str, str] = {}
    raw_set = m.get("set") or {}
    if not isinstance(raw_set, dict):
        problems.append(f"{where}.set: must be a mapping of Directive: value")
        raw_set = {}
    for name, value in raw_set.items():
        if isinstance(value, list | dict) or value is None:
            problems.append(
                f"{where}.set.{_cut(str(name), 60)}: must be a single value, not a list or mapping"
            )
        else:
            overrides[str(name)] = directive_text(value)
    admin = str(m.get("admin_user", defaults.ADMIN_USER))
    if problems:
        return None, problems
    adopt = bool(m.get("adopt_admin_user"))
    request = Request(str(profile), overrides, admin, adopt, str(placement))
    problems += [f"{where}: {p.message}" for p in validation.validate_request(request).problems]
    if problems:
        return None, problems
    return HostEntry(
        name=printable(m["name"], indent=False) if m.get("name") else None,
        host=m["host"],
        port=m.get("port", 22),
        user=m["user"],
        identity=m["identity"],
        passphrase_env=m.get("passphrase_env"),
        request=request,
        known_hosts=str(m.get("known_hosts") or "~/.ssh/known_hosts"),
        accept_new_host_key=bool(m.get("accept_new_host_key")),
        host_key_fingerprint=m.get("host_key_fingerprint"),
    ), []
