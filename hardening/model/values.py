"""Config values (YAML/JSON scalars) as the text of an sshd directive value.

Stack config reaches us typed: `X11Forwarding: false` is a bool, `MaxAuthTries: 3` may arrive as
the float 3.0 (numbers cross Pulumi's gRPC boundary as floats). sshd, and so the engine, wants
`no` and `3`. One rule for every caller (the Pulumi provider, the nightly drift check).
"""

from __future__ import annotations


def is_scalar(value: object) -> bool:
    """A value that can stand for one directive value (not a list, map or null)."""
    return isinstance(value, str | int | float)  # bool is an int


def directive_text(value: object) -> str:
    """bool -> yes/no, a whole float -> its int, anything else -> str(value)."""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
