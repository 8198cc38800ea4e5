"""Evaluate the controls against what a host shows: pure, so recorded facts test it.

A control passes when every check passes. A check whose value the host cannot show (a key this
OpenSSH does not have, file modes not read) is "not applicable". A failing control that
`baseline` deliberately does not enforce is "not enforced", with the catalogue's reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hardening.host.facts import HostFacts
from hardening.model.controls import Catalogue, Check, Control, load_catalogue

PASS, FAIL, NOT_APPLICABLE, NOT_ENFORCED = "pass", "fail", "not applicable", "not enforced"
STATUSES = (PASS, FAIL, NOT_APPLICABLE, NOT_ENFORCED)

_PRIVATE_KEY = re.compile(r"^/etc/ssh/ssh_host_\w+_key$")
_PUBLIC_KEY = re.compile(r"^/etc/ssh/ssh_host_\w+_key\.pub$")


@dataclass(frozen=True)
class HostView:
    """What a host shows the controls: `sshd -T` and the files' modes."""

    effective: Mapping[str, str]  # `sshd -T` (lower-case keys)
    file_modes: Mapping[str, tuple[str, str, str]] | None  # path -> (mode, owner, group)
    sshd_error: str | None = None  # `sshd -T` failed: nothing it would print is known

    @classmethod
    def of(cls, facts: HostFacts) -> HostView:
        return cls(facts.effective, facts.file_modes, facts.sshd_test_error)


@dataclass(frozen=True)
class CheckResult:
    ok: bool | None  # None: not applicable
    expected: str
    actual: str
    source: str  # where the actual value was read


@dataclass(frozen=True)
class ControlResult:
    control: Control
    status: str  # one of STATUSES
    expected: str
    actual: str
    source: str
    why: str = ""  # not enforced / not applicable: the reason


def _sshd(check: Check, view: HostView) -> CheckResult:
    source = "sshd -T: " + ", ".join(check.keys)
    expected = _expected(check)
    if view.sshd_error is not None:
        return CheckResult(False, expected, f"sshd -T failed: {view.sshd_error}", source)
    if check.test == "any_set":
        found = {k: view.effective[k] for k in check.keys if view.effective.get(k)}
        actual = "; ".join(f"{k} {v}" for k, v in found.items()) or "(none set)"
        return CheckResult(bool(found), expected, actual, source)
    key = check.keys[0]
    value = view.effective.get(key)
    if value is None:
        ok = True if check.absent_passes else None
        return CheckResult(ok, expected, f"(not printed by this sshd: {key})", source)
    return CheckResult(_value_ok(check, value), expected, value, source)


def _value_ok(check: Check, value: str) -> bool:
    v = value.strip()
    if check.test == "equals":
        return v.lower() == str(check.value).lower()
    if check.test == "one_of":
        return v.lower() in {str(x).lower() for x in check.value}
    if check.test == "not":
        return v.lower() != str(check.value).lower()
    if check.test == "between":
        low, high = check.value
        return v.isdigit() and int(v) >= low and (high is None or int(v) <= high)
    if check.test == "none_of":
        return not set(v.split(",")) & set(check.value)
    if check.test == "max_startups":
        return _max_startups_ok(v, str(check.value))
    raise ValueError(f"unknown test {check.test}")


def _max_startups_ok(value: str, limit: str) -> bool:
    """start:rate:full at most as permissive as `limit` (a lone N means N:100:N)."""
    parts = value.split(":")
    if not all(p.isdigit() for p in parts) or len(parts) not in (1, 3):
        return False
    start, rate, full = (int(parts[0]), 100, int(parts[0])) if len(parts) == 1 else map(int, parts)
    l_start, l_rate, l_full = (int(p) for p in limit.split(":"))
    return start <= l_start and rate >= l_rate and full <= l_full


def _expected(check: Check) -> str:
    v = check.value
    match check.test:
        case "equals":
            return str(v)
        case "one_of":
            return " or ".join(v)
        case "not":
            return f"not {v}"
        case "between":
            return f"{v[0]} or more" if v[1] is None else f"{v[0]} to {v[1]}"
        case "none_of":
            return "none of " + ",".join(v)
        case "max_startups":
            return f"{v} or stricter"
        case "any_set":
            return "one of " + ", ".join(check.keys) + " set"
        case "mode_owner":
            text = f"{v['mode']} or stricter, {v['owner']}:{'|'.join(v['groups'])}"
            if "or_mode" in v:
                text += f" (or {v['or_mode']} {v['owner']}:{'|'.join(v['or_groups'])})"
            return text
    return str(v)


def _mode_within(mode: str, limit: str) -> bool:
    return int(mode, 8) & ~int(limit, 8) == 0


def file_ok(spec: Mapping[str, Any], mode: str, owner: str, group: str) -> bool:
    """The owner, and the mode within `mode` for `groups` (or within `or_mode` for `or_groups`:
    RHEL's private host keys are 0640 root:ssh_keys)."""
    if owner != spec["owner"]:
        return False
    if _mode_within(mode, spec["mode"]) and group in spec["groups"]:
        return True
    alt = spec.get("or_mode")
    return alt is not None and _mode_within(mode, alt) and group in spec.get("or_groups", ())


def file_paths(check: Check, file_modes: Mapping[str, object]) -> list[str]:
    """The files of the host a file check reads (its path, or the host keys of its set)."""
    if check.path == "private-host-keys":
        return sorted(p for p in file_modes if _PRIVATE_KEY.match(p))
    if check.path == "public-host-keys":
        return sorted(p for p in file_modes if _PUBLIC_KEY.match(p))
    return [check.path] if check.path in file_modes else []


def _file(check: Check, view: HostView) -> CheckResult:
    expected = _expected(check)
    source = f"stat {check.path}"
    if view.file_modes is None:
        return CheckResult(None, expected, "(file modes not read from this host)", source)
    paths = file_paths(check, view.file_modes)
    if not paths:
        return CheckResult(None, expected, f"(no file: {check.path})", source)
    shown = [(p, *view.file_modes[p]) for p in paths]
    ok = all(file_ok(check.value, mode, owner, group) for _, mode, owner, group in shown)
    actual = "; ".join(f"{mode} {owner}:{group} {p}" for p, mode, owner, group in shown)
    return CheckResult(ok, expected, actual, "stat " + " ".join(paths))


def evaluate_control(control: Control, view: HostView) -> ControlResult:
    results = [(_sshd if c.read == "sshd" else _file)(c, view) for c in control.checks]
    expected = "; ".join(r.expected for r in results)
    actual = "; ".join(r.actual for r in results)
    source = "; ".join(r.source for r in results)
    if any(r.ok is False for r in results):
        if not control.enforced:
            return ControlResult(control, NOT_ENFORCED, expected, actual, source, control.why)
        return ControlResult(control, FAIL, expected, actual, source)
    if any(r.ok is None for r in results):
        return ControlResult(
            control, NOT_APPLICABLE, expected, actual, source, "the host does not show this value"
        )
    return ControlResult(control, PASS, expected, actual, source)


def evaluate(view: HostView, catalogue: Catalogue | None = None) -> list[ControlResult]:
    """Every control of the catalogue (the packaged one by default), in its order."""
    controls: Sequence[Control] = (catalogue or load_catalogue()).controls
    return [evaluate_control(c, view) for c in controls]
