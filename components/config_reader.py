"""Reading the ``hardened-ecs`` namespace: raw values, defaults, and problems collected, not raised.

Every section reader (config_access.py, config_servers.py, config_hardening.py) reports through
:class:`Reader`: a problem names the stack key, what is wrong and the command that fixes it.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import pulumi

from hardening.model import defaults

NAMESPACE = "hardened-ecs"

# Defaults; Pulumi.yaml declares the same ones (a test keeps the two in step).
DEFAULTS: dict[str, Any] = {
    "adminUser": defaults.ADMIN_USER,
    "instanceCount": 1,
    "instanceType": "ecs.t6-c1m2.large",
    "image": "ubuntu-22.04",
    "vpcCidr": "172.16.0.0/16",
    "vswitchCidr": "172.16.1.0/24",
    "internetMaxBandwidthOut": 5,
    "systemDiskCategory": "cloud_essd",
    "allowSshFromAnywhere": False,
    "sshPort": 22,
    "allowPrivilegedSshPort": False,
    "deletionProtection": False,
    "elasticIp": False,
    "tags": {},
    "hardening": {"profile": "baseline", "set": {}},
}


def config_set(key: str, value: str, *, path: bool = False) -> str:
    """The `pulumi config set` command (in backquotes) that gives `key` the value `value`."""
    if path:  # quoted: [ ] and . must reach pulumi, not the shell
        return f"`pulumi config set --path '{NAMESPACE}:{key}' {value}`"
    return f"`pulumi config set {NAMESPACE}:{key} {value}`"


def problem_text(key: str, what: str, fix: str) -> str:
    """One configuration problem: the key, what is wrong and the command that fixes it."""
    return f"{NAMESPACE}:{key} {what}. Fix: {fix}"


class Reader:
    """Reads raw config values and collects problems instead of stopping at the first."""

    def __init__(self, config: pulumi.Config) -> None:
        self.config = config
        self.problems: list[str] = []

    def problem(self, key: str, what: str, fix: str) -> None:
        self.problems.append(problem_text(key, what, fix))

    def raw(self, key: str) -> str | None:
        return self.config.get(key)

    def text(self, key: str) -> str:
        value = self.raw(key)
        return str(DEFAULTS[key]) if value is None else value

    def structured(self, key: str) -> Any:
        value = self.raw(key)
        if value is None:
            return DEFAULTS.get(key)
        try:
            return json.loads(value)
        except ValueError:
            # A plain string where a list or object is expected.
            return value

    def one_of(self, key: str, allowed: Collection[str], what: str, example: str) -> str:
        """The text value of `key`; a problem unless it is in `allowed` (`what` says which)."""
        value = self.text(key)
        if value not in allowed:
            self.problem(key, f"{value!r} is not {what}", config_set(key, example))
        return value

    def integer(self, key: str, bounds: tuple[int, int], why: str = "") -> int:
        default = int(DEFAULTS[key])
        value = self.raw(key)
        low, high = bounds
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            self.problem(
                key, f"must be a whole number, got {value!r}", config_set(key, str(default))
            )
            return default
        if not low <= number <= high:
            self.problem(
                key,
                f"must be between {low} and {high}, got {number}{why}",
                config_set(key, str(default)),
            )
        return number

    def boolean(self, key: str, fix: str | None = None) -> bool:
        value = self.raw(key)
        if value is None:
            return bool(DEFAULTS[key])
        if value in ("true", "True"):
            return True
        if value in ("false", "False"):
            return False
        self.problem(key, f"must be true or false, got {value!r}", fix or config_set(key, "false"))
        return bool(DEFAULTS[key])
