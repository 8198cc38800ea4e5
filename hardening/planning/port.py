"""Moving sshd's port: every other Port line set aside, ListenAddress lines that pin one refused.

Pure: text in, text out. `Port` is cumulative in sshd (each line adds a port), so writing ours
first is not enough: every other `Port` line the host has would keep its port open too. They
are commented out behind MOVED (the transaction backs up every file it changes, so a rollback
brings them back), and uncommented again once Port is no longer managed. A `ListenAddress
ADDR:PORT` fixes a port for its address that no `Port` line moves: refused, naming the line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hardening.planning import sshd_config

# In front of a Port line we set aside; only lines that carry it are ever uncommented.
MOVED = "#hardened-ecs-moved-port# "

_PORT_LINE = re.compile(r"\s*port(?:\s*=\s*|\s+)\S", re.IGNORECASE)


class FixedListen(Exception):
    """The host's configuration pins a port that the wanted Port cannot move."""


def set_aside(text: str) -> str:
    """`text` with every Port line commented out behind MOVED."""
    return "".join(
        MOVED + line if _PORT_LINE.match(line) else line for line in text.splitlines(keepends=True)
    )


def put_back(text: str) -> str:
    """`text` with the Port lines set_aside commented out live again."""
    return "".join(
        line.replace(MOVED, "", 1) if line.startswith(MOVED) else line
        for line in text.splitlines(keepends=True)
    )


def rewrite(managed: bool) -> Callable[[str], str]:
    """What the host's own files need: Port lines set aside while we manage Port, else back."""
    return set_aside if managed else put_back


@dataclass(frozen=True)
class Pinned:
    where: str  # "/etc/ssh/sshd_config line 12"
    line: str  # as written
    port: int


def listen_port(args: str) -> int | None:
    """The port a ListenAddress line fixes (`1.2.3.4:22`, `[::1]:22`, `host:22`), if any."""
    token = args.split()[0] if args.split() else ""
    if token.startswith("["):
        _, close, rest = token.partition("]")
        port = rest[1:] if close and rest.startswith(":") else ""
    elif token.count(":") == 1:
        port = token.partition(":")[2]
    else:
        return None  # a bare address or host, or an IPv6 address without brackets
    return int(port) if port.isdigit() else None


def pinned_ports(files: Mapping[str, str]) -> list[Pinned]:
    """Every ListenAddress line with a port of its own, in the files sshd reads (path -> text)."""
    found = []
    for path, text in files.items():
        for line in sshd_config.parse_lines(text):
            if line.keyword != "listenaddress":
                continue
            port = listen_port(line.args)
            if port is not None:
                where = f"{path} line {line.number}"
                found.append(Pinned(where, f"ListenAddress {line.args}", port))
    return found


def refuse_pinned(files: Mapping[str, str], wanted: str) -> None:
    """Raise FixedListen naming each ListenAddress line that pins another port than `wanted`."""
    wrong = [p for p in pinned_ports(files) if str(p.port) != wanted]
    if not wrong:
        return
    lines = "; ".join(f"{p.where}: '{p.line}'" for p in wrong)
    raise FixedListen(
        f"Port={wanted}: the host's sshd configuration pins another port to an address, which "
        f"no Port line moves ({lines}); remove the port from that ListenAddress (or set it to "
        f"{wanted}) on the host, then apply again"
    )
