"""The file modes and owners `apply` sets: what the catalogue's enforced file controls ask.

CIS 5.1.1-5.1.3: sshd_config and the private host keys readable by root only, the public host
keys writable by root only. Only a mode and an owner change, never a file's content (a host
key stays the key clients know). The new mode is the old one with every bit the control
forbids taken away: a bit is never added, so a file already stricter stays as it is.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from hardening.model.controls import Catalogue, load_catalogue
from hardening.planning.control_eval import file_ok, file_paths


@dataclass(frozen=True)
class ModeChange:
    path: str
    mode: str  # octal, as `stat -c %a` prints it ("600")
    owner: str
    group: str
    before: tuple[str, str, str]  # (mode, owner, group) as the facts read them

    def describe(self) -> str:
        """Like "/etc/ssh/sshd_config mode 0644 -> 0600", and the owner when that changes too."""
        mode, owner, group = self.before
        parts = []
        if int(mode, 8) != int(self.mode, 8):
            parts.append(f"mode {_octal(mode)} -> {_octal(self.mode)}")
        if (owner, group) != (self.owner, self.group):
            parts.append(f"owner {owner}:{group} -> {self.owner}:{self.group}")
        return f"{self.path} " + ", ".join(parts)


def _octal(mode: str) -> str:
    return f"{int(mode, 8):04o}"


def _fixed(path: str, spec: Mapping[str, Any], before: tuple[str, str, str]) -> ModeChange:
    """The file as the control passes it, closest to how it is: a key in the RHEL family's
    ssh_keys group keeps that group (0640 passes there), anything else goes to root."""
    mode, _, group = before
    if spec.get("or_mode") is not None and group in spec.get("or_groups", ()):
        limit, new_group = spec["or_mode"], group
    else:
        limit, new_group = spec["mode"], spec["groups"][0]
    new_mode = format(int(mode, 8) & int(limit, 8), "o")
    return ModeChange(path, new_mode, spec["owner"], new_group, before)


def mode_changes(
    file_modes: Mapping[str, tuple[str, str, str]] | None,
    written: Collection[str] = (),
    catalogue: Catalogue | None = None,
) -> list[ModeChange]:
    """Every file an enforced file control fails, with the mode and owner that pass it.

    `written`: files the plan writes anyway; the transaction stages each root:root 0600, which
    every file control passes. No modes read (facts from an older tool): nothing to change.
    """
    if file_modes is None:
        return []
    out: dict[str, ModeChange] = {}
    for control in (catalogue or load_catalogue()).controls:
        if not control.enforced:
            continue
        for check in control.checks:
            if check.read != "file":
                continue
            for path in file_paths(check, file_modes):
                if path in written or path in out:
                    continue
                mode, owner, group = file_modes[path]
                if not file_ok(check.value, mode, owner, group):
                    out[path] = _fixed(path, check.value, (mode, owner, group))
    return list(out.values())
