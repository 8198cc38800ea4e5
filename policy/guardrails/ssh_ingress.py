"""Mandatory: no SSH ingress from the whole internet (0.0.0.0/0 or ::/0)."""

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


def is_whole_internet(cidr: object) -> bool:
    if not isinstance(cidr, str) or not cidr:
        return False
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


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
                f"to the whole internet ({', '.join(map(str, world))}); "
                "allow only your own CIDRs"
            ),
            config_key=config_key("allowedSshCidrs"),
        )
    ]
