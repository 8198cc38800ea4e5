"""The SELinux port label a port move needs (planning/port_guards.py): made under the host
lock before the reload, taken away again when the change is undone."""

from __future__ import annotations

from hardening.host.shell import assign, script_text


def label_script(port: int) -> str:
    """Label `port` ssh_port_t; prints "@did label" once done, exits 30 when semanage fails."""
    return assign({"PORT": port, "ACTION": "add"}) + script_text(
        "port_label.sh", "hardening.change"
    )


def unlabel_script(port: int) -> str:
    """Take our label of `port` away; prints "@undo-failed label" when it could not."""
    return assign({"PORT": port, "ACTION": "delete"}) + script_text(
        "port_label.sh", "hardening.change"
    )
