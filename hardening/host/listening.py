"""The addresses the running sshd listens on, from the facts script's `listening` section.

The script prints `pid N` and then one `tcp HEX:HEX` / `tcp6 HEX:HEX` line per listening socket
the process holds, as /proc/net/tcp{,6} shows them: the address in the kernel's byte order
(each 32-bit word little-endian on the x86 and arm hosts we meet), the port big-endian hex.
"""

from __future__ import annotations

import ipaddress

# (address as Python's ipaddress writes it, port)
Endpoint = tuple[str, int]


def _address(family: str, hexaddr: str) -> str:
    raw = bytes.fromhex(hexaddr)
    if family == "tcp" and len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    if family == "tcp6" and len(raw) == 16:
        words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
        return str(ipaddress.IPv6Address(words))
    raise ValueError(f"not a {family} address: {hexaddr}")


def parse_listening(text: str) -> frozenset[Endpoint] | None:
    """The listener's endpoints; None when the script could not read them (no listener, or
    not root), so that "unknown" is never taken for "listens nowhere"."""
    lines = text.split("\n")
    if not lines or not lines[0].startswith("pid "):
        return None
    found = set()
    for line in lines[1:]:
        family, _, local = line.strip().partition(" ")
        hexaddr, _, hexport = local.partition(":")
        try:
            found.add((_address(family, hexaddr), int(hexport, 16)))
        except ValueError:
            return None  # not what the script prints: claim nothing
    return frozenset(found)
