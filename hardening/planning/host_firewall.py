"""Would the host's own firewall let a new SSH port in? Pure: port facts in, a verdict out.

Our call (README, "Moving the SSH port"): we never edit the host firewall; when it would drop
the new port, the move is refused before anything changes, with the exact command to open it.
Why not open it ourselves: the host firewall is the operator's policy (often managed by
configuration management that would undo us, or be surprised); opening a port ahead of the move
is harmless and one line; and what we opened could not be closed again when the host's own
watcher rolls back without us. ufw and firewalld say what they allow, so they are judged
exactly. Plain nftables/iptables rules are judged only when simple: an input chain that drops
by default and no rule in it naming the port. Anything we cannot read (named sets, jumps to
other chains) is a warning, not a refusal: the fresh login on the new port is the final proof,
and the host rolls back by itself when it is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hardening.host.port_facts import PortFacts, PortRange, port_ranges


@dataclass(frozen=True)
class FirewallVerdict:
    refusal: str | None = None  # names the firewall and the command that opens the port
    warning: str | None = None  # could not tell; the fresh login decides


def _within(port: int, ranges: tuple[PortRange, ...]) -> bool:
    return any(low <= port <= high for low, high in ranges)


# `ufw status`: "2222/tcp  ALLOW  Anywhere", "2222  ALLOW IN  Anywhere", "OpenSSH  ALLOW ...".
_UFW_RULE = re.compile(r"^(\S+)(?:\s+\(v6\))?\s+(ALLOW|DENY|REJECT|LIMIT)\b")
_UFW_APPS = {"openssh": (22, 22), "ssh": (22, 22)}


def _ufw_allows(rules: tuple[str, ...], port: int) -> bool:
    for line in rules:
        m = _UFW_RULE.match(line.strip())
        if not m or m.group(2) not in ("ALLOW", "LIMIT"):
            continue
        what, _, proto = m.group(1).partition("/")
        if proto not in ("", "tcp"):
            continue
        app = _UFW_APPS.get(what.lower())
        if _within(port, (app,) if app else port_ranges(what)):
            return True
    return False


def _firewalld_allows(facts: PortFacts, port: int) -> bool:
    ranges = port_ranges(
        " ".join(p.removesuffix("/tcp") for p in facts.firewalld_ports if p.endswith("/tcp"))
    )
    # firewalld's own `ssh` service is 22/tcp.
    return _within(port, ranges) or (port == 22 and "ssh" in facts.firewalld_services)


@dataclass(frozen=True)
class _Chain:
    family: str
    table: str
    name: str
    drops: bool  # policy drop, or a last rule that drops or rejects everything left
    names_port: bool  # a rule accepts the port (dport N, a range or an anonymous set)
    unreadable: bool  # jumps elsewhere or matches a named set: we cannot tell


_DPORT = re.compile(r"\bdport\s+(\{[^}]*\}|\S+)")


def _nft_chains(ruleset: str, port: int) -> list[_Chain]:
    chains: list[_Chain] = []
    family = table = chain = ""
    hook_input = drops = names = unreadable = False
    last = ""
    for raw in ruleset.splitlines():
        line = raw.strip()
        if m := re.match(r"table (\S+) (\S+) \{", line):
            family, table = m.groups()
        elif m := re.match(r"chain (\S+) \{", line):
            chain, last = m.group(1), ""
            hook_input = drops = names = unreadable = False
        elif chain and line == "}":
            if hook_input:
                drops = drops or bool(
                    re.fullmatch(r"(counter( packets \d+ bytes \d+)? )?(drop|reject.*)", last)
                )
                chains.append(_Chain(family, table, chain, drops, names, unreadable))
            chain = ""
        elif chain and line.startswith("type ") and " hook input " in f"{line} ":
            hook_input = True
            drops = "policy drop" in line
        elif chain and line:
            last = line
            if re.search(r"\b(jump|goto)\b", line) or re.search(r"\bdport\s+@", line):
                unreadable = True
            m2 = _DPORT.search(line)
            accepts = m2 is not None and line.endswith("accept") and "udp dport" not in line
            if m2 and accepts and _within(port, port_ranges(m2.group(1).strip("{}"))):
                names = True
    return chains


def _iptables_drops(rules: tuple[str, ...], port: int) -> tuple[bool, bool, bool]:
    """(drops by default, a rule accepts the port, a rule we cannot read)."""
    drops = any(r.strip() in ("-P INPUT DROP", "-P INPUT REJECT") for r in rules)
    names = unreadable = False
    for rule in rules:
        r = rule.strip()
        if not r.startswith("-A INPUT "):
            continue
        if re.fullmatch(r"-A INPUT -j (DROP|REJECT)\b.*", r):
            drops = True
        elif re.search(r"-j ACCEPT\b", r):
            m = re.search(r"--dports?\s+(\S+)", r)
            if m and "-p udp" not in r and _within(port, port_ranges(m.group(1))):
                names = True
        elif not re.search(r"-j (DROP|REJECT|LOG)\b", r):
            unreadable = True  # a jump to a chain of its own
    return drops, names, unreadable


def firewall_verdict(facts: PortFacts, port: int) -> FirewallVerdict:
    """Would the host firewall let `port`/tcp in? Refuse (with the fix), warn, or nothing."""
    done = " on the host, then apply again"
    if facts.ufw_active:
        if _ufw_allows(facts.ufw_rules, port):
            return FirewallVerdict()
        return FirewallVerdict(
            refusal=f"ufw is active and does not allow {port}/tcp: run `ufw allow {port}/tcp`{done}"
        )
    if facts.firewalld:
        if _firewalld_allows(facts, port):
            return FirewallVerdict()
        zone = facts.firewalld_zone or "public"
        return FirewallVerdict(
            refusal=f"firewalld is running and its zone {zone} does not allow {port}/tcp: run "
            f"`firewall-cmd --zone={zone} --add-port={port}/tcp && "
            f"firewall-cmd --permanent --zone={zone} --add-port={port}/tcp`{done}"
        )
    # ufw and firewalld write nftables/iptables rules of their own: judged above, not here.
    for c in _nft_chains(facts.nft, port):
        if not c.drops or c.names_port:
            continue
        where = f"nftables chain {c.family} {c.table} {c.name}"
        if c.unreadable:
            return FirewallVerdict(warning=_unsure(where, port))
        return FirewallVerdict(
            refusal=f"{where} drops what it does not accept and accepts no {port}/tcp: run "
            f"`nft insert rule {c.family} {c.table} {c.name} tcp dport {port} accept` "
            f"(and keep it in your nftables configuration){done}"
        )
    if not facts.nft and facts.iptables:
        drops, names, unreadable = _iptables_drops(facts.iptables, port)
        if drops and not names:
            if unreadable:
                return FirewallVerdict(warning=_unsure("iptables INPUT chain", port))
            return FirewallVerdict(
                refusal=f"iptables' INPUT chain drops what it does not accept and accepts no "
                f"{port}/tcp: run `iptables -I INPUT -p tcp --dport {port} -j ACCEPT` (and keep "
                f"it in your saved rules){done}"
            )
    return FirewallVerdict()


def _unsure(where: str, port: int) -> str:
    return (
        f"{where} drops by default and we could not tell whether it accepts {port}/tcp "
        "(named sets or jumps); the fresh login on the new port decides, and the host rolls "
        "back by itself if it is dropped"
    )
