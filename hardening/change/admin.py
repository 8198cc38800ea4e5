"""The admin account's on-host scripts: make it ready before root closes, and undo that."""

from __future__ import annotations

from hardening.change.onhost import assign, script
from hardening.host.paths import STATE_DIR


def admin_script(admin: str, key_line: str, *, adopt: bool) -> str:
    values = assign(ADMIN=admin, KEY_LINE=key_line, STATE=STATE_DIR, ADOPT="yes" if adopt else "no")
    return values + script("admin.sh")


def admin_undo_script(admin: str, key_line: str, did: list[str]) -> str:
    values = assign(ADMIN=admin, KEY_LINE=key_line, STATE=STATE_DIR, DID=" ".join(reversed(did)))
    return values + script("admin_undo.sh")
