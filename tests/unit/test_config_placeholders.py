"""The placeholder rule (components/config_placeholders.py) on raw stack configuration."""

from __future__ import annotations

import json

import pytest

from components.config_placeholders import placeholder_problems


def config(cidrs: list[str], key: str = "ssh-ed25519 AAAA me@laptop") -> dict[str, str]:
    return {"hardened-ecs:allowedSshCidrs": json.dumps(cidrs), "hardened-ecs:sshPublicKey": key}


@pytest.mark.parametrize(
    "cidr", ["192.0.2.0/24", "198.51.100.7/32", "203.0.113.128/25", "2001:db8:1::/48"]
)
def test_documentation_ranges_are_placeholders(cidr: str) -> None:
    (problem,) = placeholder_problems(config(["81.2.69.0/24", cidr]))
    assert problem.startswith("hardened-ecs:allowedSshCidrs item 1 ")
    assert "documentation range" in problem
    assert "pulumi config set --path 'hardened-ecs:allowedSshCidrs[1]'" in problem


@pytest.mark.parametrize("cidr", ["81.2.69.0/24", "203.0.0.0/16", "2001:db9::/32", "not-a-cidr"])
def test_real_ranges_and_unreadable_ones_are_not(cidr: str) -> None:
    # A wider range that contains a documentation one is a real choice; a bad CIDR is the
    # config validation's to report.
    assert placeholder_problems(config([cidr])) == []


def test_the_committed_placeholder_key_is_one() -> None:
    (problem,) = placeholder_problems(
        config(["81.2.69.0/24"], "ssh-rsa AAAA placeholder-replace-me")
    )
    assert problem.startswith("hardened-ecs:sshPublicKey is the committed placeholder key")
    assert 'pulumi config set hardened-ecs:sshPublicKey "$(cat ~/.ssh/id_rsa.pub)"' in problem


def test_missing_or_malformed_values_are_not_placeholders() -> None:
    assert placeholder_problems({}) == []
    assert placeholder_problems({"hardened-ecs:allowedSshCidrs": "203.0.113.0/24"}) == []
