"""Shapes of the values an operator gives (CLI flags and inventory entries alike)."""

from __future__ import annotations

import re

HOST = re.compile(r"[A-Za-z0-9._:-]+")  # a name, IPv4 or bare IPv6 (no [brackets])
USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}=?")
FINGERPRINT_HINT = (
    "expected SHA256:<43 base64 characters>, as `ssh-keygen -lf "
    "/etc/ssh/ssh_host_ed25519_key.pub` prints on the host"
)
