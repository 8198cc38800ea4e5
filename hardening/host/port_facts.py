"""What on the host bears on moving sshd's port, from the facts script's `ports`, `selinux` and
`firewall` sections (gathered only when the request sets Port). Pure parsing; the judgement is
hardening/planning/port_guards.py's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hardening.host.listening import Endpoint, parse_listening

PortRange = tuple[int, int]  # first, last (a single port: both the same)


@dataclass(frozen=True)
class Listener:
    """A TCP socket listening on the host, and who holds it (None: no readable process)."""

    endpoint: Endpoint
    pid: int | None
    process: str | None

    @property
    def port(self) -> int:
        return self.endpoint[1]


@dataclass(frozen=True)
class PortFacts:
    listeners: tuple[Listener, ...] = ()
    selinux: str = "disabled"  # "enforcing", "permissive" or "disabled"
    semanage: bool = False  # only asked when enforcing
    # SELinux port type -> the tcp ports `semanage port -l` gives it (only when enforcing)
    labels: dict[str, tuple[PortRange, ...]] = field(default_factory=dict)
    ufw_active: bool = False
    ufw_rules: tuple[str, ...] = ()  # `ufw status` lines
    firewalld: bool = False  # firewalld is running
    firewalld_zone: str = ""
    firewalld_ports: tuple[str, ...] = ()  # "2222/tcp", "8000-8100/tcp"
    firewalld_services: tuple[str, ...] = ()
    nft: str = ""  # `nft list ruleset` ("" when nft is not there or shows nothing)
    iptables: tuple[str, ...] = ()  # `iptables -S INPUT`, when there is no nft


def port_ranges(text: str) -> tuple[PortRange, ...]:
    """`22, 2200-2299` (semanage, firewalld, nft) -> ((22, 22), (2200, 2299)); unknown tokens
    are skipped."""
    out = []
    for token in re.split(r"[,\s]+", text.strip()):
        m = re.fullmatch(r"(\d{1,5})(?:[-:](\d{1,5}))?", token)
        if m:
            out.append((int(m.group(1)), int(m.group(2) or m.group(1))))
    return tuple(out)


def _listeners(text: str) -> tuple[Listener, ...]:
    out = []
    for line in text.splitlines():
        parts = line.split(None, 3)
        if len(parts) != 4:
            continue
        endpoints = parse_listening(f"pid 0\n{parts[0]} {parts[1]}")
        if not endpoints:
            continue
        pid, process = parts[2], parts[3].strip()
        out.append(
            Listener(
                next(iter(endpoints)),
                int(pid) if pid.isdigit() else None,
                None if process == "-" else process,
            )
        )
    return tuple(sorted(out, key=lambda x: (x.port, x.endpoint[0])))


def _labels(lines: list[str]) -> dict[str, tuple[PortRange, ...]]:
    out: dict[str, tuple[PortRange, ...]] = {}
    for line in lines:
        parts = line.split(None, 3)  # "label TYPE tcp PORTS"
        if len(parts) == 4 and parts[0] == "label" and parts[2] == "tcp":
            out[parts[1]] = out.get(parts[1], ()) + port_ranges(parts[3])
    return out


def _values(lines: list[str], key: str) -> list[str]:
    return [ln[len(key) + 1 :] for ln in lines if ln.startswith(key + " ")]


def parse_port_facts(sections: dict[str, str]) -> PortFacts | None:
    """None when the script did not gather them (the request does not set Port)."""
    selinux = sections.get("selinux", "").splitlines()
    if not selinux:
        return None
    firewall = sections.get("firewall", "").splitlines()
    words = dict(ln.partition(" ")[::2] for ln in selinux)

    def first(key: str) -> str:
        found = _values(firewall, key)
        return found[0].strip() if found else ""

    return PortFacts(
        listeners=_listeners(sections.get("ports", "")),
        selinux=words.get("mode", "disabled").strip() or "disabled",
        semanage=words.get("semanage", "").strip() == "yes",
        labels=_labels(selinux),
        ufw_active="ufw active" in firewall,
        ufw_rules=tuple(_values(firewall, "ufw-rule")),
        firewalld="firewalld running" in firewall,
        firewalld_zone=first("firewalld-zone"),
        firewalld_ports=tuple(first("firewalld-ports").split()),
        firewalld_services=tuple(first("firewalld-services").split()),
        nft="\n".join(_values(firewall, "nft")).strip(),
        iptables=tuple(_values(firewall, "iptables")),
    )
