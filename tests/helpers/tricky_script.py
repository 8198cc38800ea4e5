"""A script that must reach the remote shell byte for byte (shared by the transport's tests on
the in-process server and on a real sshd with sudo)."""

from __future__ import annotations

# Quoting, expansions and a line that looks like a here-document delimiter: all must arrive as
# written, none expanded by the login shell.
TRICKY = (
    "printf '%s\\n' 'a $HOME `id` \\\\ \"q\"'\n"
    "cat <<'EOF'\nHARDENED_ECS_EOF_0000000000000000\n$(echo not-run)\nEOF\n"
    "echo to-stderr >&2\n"
    "exit 7\n"
)
TRICKY_OUT = 'a $HOME `id` \\\\ "q"\nHARDENED_ECS_EOF_0000000000000000\n$(echo not-run)\n'
