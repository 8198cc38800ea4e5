"""The admin account's on-host scripts: make it ready before root closes, and undo that."""

from __future__ import annotations

from hardening.host.paths import STATE_DIR
from hardening.host.shell import assign, script_text


def admin_script(admin: str, key_line: str, *, adopt: bool) -> str:
    values = {"ADMIN": admin, "KEY_LINE": key_line, "STATE": STATE_DIR}
    return assign(values | {"ADOPT": "yes" if adopt else "no"}) + _script("admin.sh")


def admin_undo_script(admin: str, key_line: str, did: list[str]) -> str:
    values = {"ADMIN": admin, "KEY_LINE": key_line, "STATE": STATE_DIR}
    return assign(values | {"DID": " ".join(reversed(did))}) + _script("admin_undo.sh")


def _script(name: str) -> str:
    """The script with the start both share (admin_common.sh: PATH, as_admin) in front."""
    return script_text("admin_common.sh", "hardening.change") + script_text(
        name, "hardening.change"
    )
