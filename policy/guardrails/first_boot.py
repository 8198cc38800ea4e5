"""Mandatory (stack): public servers are closed from their first boot, and their hardening
trusts no host key on first use.

- A public ECS instance (own public IP or an EIP) must carry a `#cloud-config` user data that
  writes an sshd drop-in (under /etc/ssh/sshd_config.d/) with `PermitRootLogin no`,
  `PasswordAuthentication no` and keyboard-interactive off, and does not turn `ssh_pwauth` on:
  otherwise the image's defaults answer from the first boot until the hardening step closes
  them, minutes later.
- Every SshdHardening must pin the host key of its first connection
  (`expectedHostKeyFingerprint`): otherwise it records whatever key it is shown.

Values not known yet (a preview of new servers) are not judged: the rule runs again on `up`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from .instance_hardening import eip_fronts, has_public_ip, is_sshd_hardening
from .model import UNKNOWN_SENTINELS, Finding, Resource, RuleContext, config_key, get, label

DROPIN_DIR = "/etc/ssh/sshd_config.d/"
# Each of these (lower-cased keyword -> value) must be in the drop-in; for the keyboard-
# interactive switch either of its two names will do.
REQUIRED = (
    ({"permitrootlogin"}, "no"),
    ({"passwordauthentication"}, "no"),
    ({"kbdinteractiveauthentication", "challengeresponseauthentication"}, "no"),
)


def _unknown(value: object) -> bool:
    return isinstance(value, str) and value in UNKNOWN_SENTINELS


def _settings(content: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in content.splitlines():
        words = line.split(None, 1)
        if len(words) == 2 and not words[0].startswith("#"):
            found.setdefault(words[0].lower(), words[1].strip().lower())  # first one wins
    return found


def closing_problem(user_data: object) -> str | None:
    """Why this user data does not close root and passwords at boot (None: it does)."""
    if not isinstance(user_data, str) or not user_data.startswith("#cloud-config"):
        return "has no #cloud-config user data"
    try:
        document = yaml.safe_load(user_data)
    except yaml.YAMLError:
        return "has user data that is not valid YAML"
    if not isinstance(document, Mapping):
        return "has an empty cloud-config"
    if document.get("ssh_pwauth") not in (None, False, "false", "no"):
        return "turns password logins on (ssh_pwauth)"
    files = document.get("write_files") or []
    for entry in files if isinstance(files, list) else []:
        if not isinstance(entry, Mapping):
            continue
        path, content = str(entry.get("path", "")), entry.get("content")
        if path.startswith(DROPIN_DIR) and isinstance(content, str):
            have = _settings(content)
            if all(any(have.get(k) == v for k in keys) for keys, v in REQUIRED):
                return None
    return (
        f"does not write an sshd drop-in ({DROPIN_DIR}) with PermitRootLogin no, "
        "PasswordAuthentication no and KbdInteractiveAuthentication no at boot"
    )


def check_closed_from_first_boot(resources: Sequence[Resource], ctx: RuleContext) -> list[Finding]:
    findings: list[Finding] = []
    for r in resources:
        if r["type"] != "alicloud:ecs/instance:Instance":
            continue
        if not (has_public_ip(r) or eip_fronts(r, resources)):
            continue
        user_data: Any = get(r["props"], "userData")
        if _unknown(r["props"].get("userData")):
            continue
        problem = closing_problem(user_data)
        if problem:
            findings.append(
                Finding(
                    f"public ECS instance {label(r)} {problem}: it is open from its first "
                    "boot until the hardening step closes it",
                    urn=r.get("urn"),
                    config_key=config_key("adminUser"),
                )
            )
    for h in (r for r in resources if is_sshd_hardening(r)):
        raw = h["props"].get("expectedHostKeyFingerprint")
        if raw or _unknown(raw):
            continue
        findings.append(
            Finding(
                f"SshdHardening {label(h)} pins no host key (expectedHostKeyFingerprint): its "
                "first connection would trust whatever key it is shown",
                urn=h.get("urn"),
            )
        )
    return findings
