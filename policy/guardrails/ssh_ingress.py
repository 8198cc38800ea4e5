"""Mandatory: no SSH ingress from the whole internet (0.0.0.0/0 or ::/0) or a large part of it.

A source wider than an IPv4 /8 or an IPv6 /16 counts as the internet: no organisation's own
network is that large, and 0.0.0.0/1 + 128.0.0.0/1 must not pass where 0.0.0.0/0 fails.
components/config.py refuses the same ranges without allowSshFromAnywhere.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from .model import Finding, RuleContext, config_key, get

RULE_TYPES = frozenset({"alicloud:ecs/securityGroupRule:SecurityGroupRule"})
# Protocols whose rules can carry SSH (tcp); "all" covers every protocol.
SSH_PROTOCOLS = frozenset({"tcp", "all"})


def parse_port_range(value: object) -> tuple[int, int] | None:
    """`"22/22"` -> (22, 22); `"-1/-1"` or missing -> every port; garbage -> None."""
    if value is None or value == "":
        return (1, 65535)
    if not isinstance(value, str) or "/" not in value:
        return None
    low_text, _, high_text = value.partition("/")
    try:
        low, high = int(low_text), int(high_text)
    except ValueError:
        return None
    if (low, high) == (-1, -1):
        return (1, 65535)
    return (low, high)


# Prefix lengths below these are "anywhere" (IP version -> shortest allowed prefix).
ANYWHERE_BELOW_PREFIX = {4: 8, 6: 16}


def is_whole_internet(cidr: object) -> bool:
    """0.0.0.0/0, ::/0, or any source wider than an IPv4 /8 or an IPv6 /16."""
    if not isinstance(cidr, str) or not cidr:
        return False
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return False
    return network.prefixlen < ANYWHERE_BELOW_PREFIX[network.version]


def check_rule(resource_type: str, props: Mapping[str, Any], ctx: RuleContext) -> list[Finding]:
    if resource_type not in RULE_TYPES:
        return []
    if str(get(props, "type") or "").lower() != "ingress":
        return []
    if str(get(props, "policy") or "accept").lower() != "accept":
        return []
    if str(get(props, "ipProtocol") or "").lower() not in SSH_PROTOCOLS:
        return []
    world = [c for c in (get(props, "cidrIp"), get(props, "ipv6CidrIp")) if is_whole_internet(c)]
    if not world:
        return []
    ports = parse_port_range(get(props, "portRange"))
    # An unparsable range is treated as covering SSH: fail closed.
    covered = sorted(p for p in ctx.ssh_ports if ports is None or ports[0] <= p <= ports[1])
    if not covered:
        return []
    return [
        Finding(
            message=(
                f"security group rule opens SSH (port {', '.join(map(str, covered))}) "
                f"to the whole internet or a large part of it ({', '.join(map(str, world))}; "
                "wider than IPv4 /8 or IPv6 /16); "
                "allow only your own CIDRs"
            ),
            config_key=config_key("allowedSshCidrs"),
        )
    ]
