"""The ``hardening`` entry of the stack config: the sshd profile and overrides for every server."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from components.config_reader import NAMESPACE, Reader, config_set
from hardening.model.directives import lookup
from hardening.model.profiles import DEFAULT_PLACEMENT, PLACEMENTS, Request
from hardening.model.validation import validate_request
from hardening.model.values import directive_text, is_scalar


@dataclass(frozen=True)
class HardeningRequest:
    """The sshd profile and per-directive overrides, in ``python -m hardening``'s vocabulary."""

    profile: str
    overrides: Mapping[str, str]
    # `hardening.adoptAdminUser`: the admin account exists on the image already and is yours.
    adopt_admin: bool = False
    # `hardening.placement`: where the values live on the server (the engine's --placement).
    placement: str = DEFAULT_PLACEMENT


def read_hardening(r: Reader, admin_user: str) -> HardeningRequest:
    key = "hardening"
    value = r.structured(key)
    profile_fix = config_set("hardening.profile", "baseline", path=True)
    if not isinstance(value, dict):
        r.problem(key, "must be a map with 'profile' and 'set'", profile_fix)
        return HardeningRequest("baseline", {})
    for unknown in sorted(set(value) - {"profile", "set", "adoptAdminUser", "placement"}):
        r.problem(
            key,
            f"has an unknown entry {unknown!r} "
            "(expected 'profile', 'set', 'adoptAdminUser', 'placement')",
            f"`pulumi config rm --path '{NAMESPACE}:hardening.{unknown}'`",
        )
    profile = value.get("profile", "baseline")
    raw_set = value.get("set") or {}
    if not isinstance(profile, str):
        r.problem(key, "profile must be a name", profile_fix)
        profile = "baseline"
    if not isinstance(raw_set, dict):
        r.problem(key, "set must be a map of sshd directive to value", "see README, Hardening")
        raw_set = {}
    overrides: dict[str, str] = {}
    for name, raw in raw_set.items():
        text = directive_text(raw) if is_scalar(raw) else None
        if text is None:
            r.problem(
                key,
                f"set.{name} must be a single value",
                config_set(f"hardening.set.{name}", "<value>", path=True),
            )
            continue
        if str(name).strip().lower() == "port":
            # The port moves the security group and the printed commands with sshd: one setting.
            r.problem(
                key,
                f"set.{name} is not where the SSH port goes: sshPort moves sshd, the "
                "security group and sshCommand together",
                f"`pulumi config rm --path '{NAMESPACE}:hardening.set.{name}'` and "
                f"{config_set('sshPort', text)}",
            )
            continue
        overrides[str(name)] = text

    _report_request_problems(r, Request(profile, overrides, admin_user), profile_fix)
    adopt = value.get("adoptAdminUser", False)
    if not isinstance(adopt, bool):
        r.problem(
            key,
            f"adoptAdminUser must be true or false, not {adopt!r}",
            f"`pulumi config set --path --type bool '{NAMESPACE}:hardening.adoptAdminUser' true`",
        )
        adopt = False
    placement = value.get("placement", DEFAULT_PLACEMENT)
    if placement not in PLACEMENTS:
        fixes = " or ".join(config_set("hardening.placement", p, path=True) for p in PLACEMENTS)
        r.problem(
            key, f"placement must be one of {', '.join(PLACEMENTS)}, not {placement!r}", fixes
        )
        placement = DEFAULT_PLACEMENT
    return HardeningRequest(profile, overrides, adopt, str(placement))


def _report_request_problems(r: Reader, request: Request, profile_fix: str) -> None:
    """The engine's problems with the request, each as the `hardening` entry that caused it."""
    checked = validate_request(request)
    # What the profile (or the admin user it is checked against) causes, then per override in
    # the order given, then what no single override explains.
    whole = sorted({p.message for p in checked.problems if p.key in ("profile", "admin_user")})
    for message in whole:
        r.problem("hardening", f"profile: {message}", profile_fix)
    seen = set(whole)
    given = _names_as_given(request.overrides)
    by_override: dict[str, list[str]] = {name: [] for name in request.overrides}
    unexplained: list[str] = []
    for problem in checked.problems:
        if problem.message in seen:
            continue
        seen.add(problem.message)
        name = given.get(problem.key)
        (by_override[name] if name is not None else unexplained).append(problem.message)
    for name, messages in by_override.items():
        for message in messages:
            # The engine's messages mostly start with the directive already.
            named = message.lower().startswith(name.lower())
            r.problem(
                "hardening",
                f"set.{message}" if named else f"set.{name}: {message}",
                f"`pulumi config set --path '{NAMESPACE}:hardening.set.{name}' <value>` or "
                f"`pulumi config rm --path '{NAMESPACE}:hardening.set.{name}'`",
            )
    for message in unexplained:
        r.problem("hardening", f"set: {message}", "change or remove one of the listed overrides")


def _names_as_given(overrides: Mapping[str, str]) -> dict[str, str]:
    """Problem key -> the override's name in the stack config.

    A Problem names an override by its canonical directive name when the directive is known,
    as given otherwise (validation's keys); the fix must name the config entry as written.
    """
    names: dict[str, str] = {}
    for name in overrides:
        directive = lookup(name)
        names.setdefault(f"overrides.{name}", name)
        if directive is not None:
            names.setdefault(f"overrides.{directive.name}", name)
    return names
