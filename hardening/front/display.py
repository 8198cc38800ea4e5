"""Text from a host, made safe for the operator's terminal.

Whatever a host prints (sshd -T, sudo, the shell) is data, not terminal commands: escape
sequences could retitle the window, clear the screen or fake the lines the operator reads.
`--json` escapes by itself; the text output goes through `printable`.
"""

from __future__ import annotations

# Bidirectional overrides reorder what is shown ("Trojan Source"): as visible as controls.
_BIDI = frozenset({*range(0x202A, 0x202F), *range(0x2066, 0x206A)})


def _escaped(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, indent: bool = True) -> str:
    """`text` with control characters (C0, DEL, C1) and bidi overrides shown as escapes.

    A line break stays one; with `indent` what follows it is indented, so host text can never
    start a line that looks like one of ours.
    """
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\n":
            out.append("\n    " if indent else ch)
        elif ch == "\t":
            out.append(ch)
        elif code < 0x20 or 0x7F <= code <= 0x9F or code in _BIDI:
            out.append(_escaped(ch))
        else:
            out.append(ch)
    return "".join(out)
