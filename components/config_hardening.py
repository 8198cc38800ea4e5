"""The ``hardening`` entry of the stack config: the sshd profile and overrides for every server."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from components.config_reader import NAMESPACE, Reader, config_set
from hardening.desired import validate_request
from hardening.values import directive_text, is_scalar


@dataclass(frozen=True)
class HardeningRequest:
    """The sshd profile and per-directive overrides, in ``python -m hardening``'s vocabulary."""

    profile: str
    overrides: Mapping[str, str]
    # `hardening.adoptAdminUser`: the admin account exists on the image already and is yours.
    adopt_admin: bool = False


def read_hardening(r: Reader, admin_user: str) -> HardeningRequest:
    key = "hardening"
    value = r.structured(key)
    profile_fix = config_set("hardening.profile", "baseline", path=True)
    if not isinstance(value, dict):
        r.problem(key, "must be a map with 'profile' and 'set'", profile_fix)
        return HardeningRequest("baseline", {})
    for unknown in sorted(set(value) - {"profile", "set", "adoptAdminUser"}):
        r.problem(
            key,
            f"has an unknown entry {unknown!r} (expected 'profile', 'set', 'adoptAdminUser')",
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
        overrides[str(name)] = text

    # Ask the hardening engine, then attribute each answer to the entry that caused it.
    seen = set(validate_request(profile, {}, admin_user))
    for problem in sorted(seen):
        r.problem(key, f"profile: {problem}", profile_fix)
    for name, text in overrides.items():
        for problem in validate_request(profile, {name: text}, admin_user):
            if problem not in seen:
                seen.add(problem)
                # The engine's messages mostly start with the directive already.
                named = problem.lower().startswith(name.lower())
                r.problem(
                    key,
                    f"set.{problem}" if named else f"set.{name}: {problem}",
                    f"`pulumi config set --path '{NAMESPACE}:hardening.set.{name}' <value>` or "
                    f"`pulumi config rm --path '{NAMESPACE}:hardening.set.{name}'`",
                )
    for problem in validate_request(profile, overrides, admin_user):
        if problem not in seen:
            r.problem(key, f"set: {problem}", "change or remove one of the listed overrides")
    adopt = value.get("adoptAdminUser", False)
    if not isinstance(adopt, bool):
        r.problem(
            key,
            f"adoptAdminUser must be true or false, not {adopt!r}",
            f"`pulumi config set --path --type bool '{NAMESPACE}:hardening.adoptAdminUser' true`",
        )
        adopt = False
    return HardeningRequest(profile, overrides, adopt)
