"""The policy rule against SSH from the internet, and the port-range parsing it relies on."""

from __future__ import annotations

from typing import Any

import pytest

from policy.guardrails.model import RuleContext
from policy.guardrails.ssh_ingress import check_rule, parse_port_range
from tests.policy.resources import CTX, INSTANCE, RULE, UNKNOWN, ssh_rule


def test_ssh_rule_from_own_cidr_passes() -> None:
    assert check_rule(RULE, ssh_rule(), CTX) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"cidrIp": "0.0.0.0/0"},
        {"cidrIp": None, "ipv6CidrIp": "::/0"},
        {"portRange": "1/65535", "cidrIp": "0.0.0.0/0"},
        {"ipProtocol": "all", "portRange": "-1/-1", "cidrIp": "0.0.0.0/0"},
        {"ipProtocol": "TCP", "cidrIp": "0.0.0.0/0"},
        # Everyone without a /0: two halves, or any block wider than a /8 (IPv6: /16).
        {"cidrIp": "0.0.0.0/1"},
        {"cidrIp": "128.0.0.0/1"},
        {"cidrIp": "8.0.0.0/7"},
        {"cidrIp": None, "ipv6CidrIp": "::/1"},
        {"cidrIp": None, "ipv6CidrIp": "2000::/3"},
        {"cidrIp": None, "ipv6CidrIp": "2001::/15"},
    ],
)
def test_ssh_rule_from_the_internet_fails_naming_the_config_key(overrides: dict[str, Any]) -> None:
    findings = check_rule(RULE, ssh_rule(**overrides), CTX)
    assert len(findings) == 1
    assert findings[0].config_key == "hardened-ecs:allowedSshCidrs"
    assert "whole internet" in findings[0].message


@pytest.mark.parametrize(
    "overrides",
    [
        {"cidrIp": "0.0.0.0/0", "portRange": "443/443"},  # not SSH
        {"cidrIp": "0.0.0.0/0", "ipProtocol": "udp"},
        {"cidrIp": "0.0.0.0/0", "type": "egress"},
        {"cidrIp": "0.0.0.0/0", "policy": "drop"},
        {"cidrIp": UNKNOWN},  # not known during preview: nothing to judge yet
        {"cidrIp": "10.0.0.0/8"},  # as wide as one organisation's network gets
        {"cidrIp": None, "ipv6CidrIp": "2001::/16"},
    ],
)
def test_rules_that_do_not_open_ssh_to_the_internet_pass(overrides: dict[str, Any]) -> None:
    assert check_rule(RULE, ssh_rule(**overrides), CTX) == []


def test_configured_ssh_port_counts_as_ssh() -> None:
    ctx = RuleContext(stack="dev", ssh_ports=frozenset({22, 2222}))
    props = ssh_rule(cidrIp="0.0.0.0/0", portRange="2222/2222")
    assert check_rule(RULE, props, CTX) == []
    assert len(check_rule(RULE, props, ctx)) == 1


def test_other_resource_types_are_ignored() -> None:
    assert check_rule(INSTANCE, ssh_rule(cidrIp="0.0.0.0/0"), CTX) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22/22", (22, 22)),
        ("1/65535", (1, 65535)),
        ("-1/-1", (1, 65535)),
        (None, (1, 65535)),
        ("22", None),
        ("a/b", None),
    ],
)
def test_parse_port_range(text: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_port_range(text) == expected


def test_unparsable_port_range_fails_closed() -> None:
    assert check_rule(RULE, ssh_rule(cidrIp="0.0.0.0/0", portRange="ssh"), CTX)
