"""The pack's rules, their names and enforcement levels: one list for the
pulumi-policy pack and the offline gate alike."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .first_boot import check_closed_from_first_boot
from .instance_hardening import check_instances_hardened
from .key_pair import check_key_pair
from .model import Finding, Level, Resource, RuleContext
from .prod_protection import check_prod_protection
from .ssh_ingress import check_rule
from .tagging import check_tags

ResourceRule = Callable[[str, Mapping[str, Any], RuleContext], list[Finding]]
StackRule = Callable[[Sequence[Resource], RuleContext], list[Finding]]


@dataclass(frozen=True)
class ResourceSpec:
    name: str
    description: str
    level: Level
    rule: ResourceRule


@dataclass(frozen=True)
class StackSpec:
    name: str
    description: str
    level: Level
    rule: StackRule


RESOURCE_SPECS: tuple[ResourceSpec, ...] = (
    ResourceSpec(
        "no-ssh-from-internet",
        "No security group rule lets SSH in from 0.0.0.0/0, ::/0 or anything wider than "
        "an IPv4 /8 or an IPv6 /16 (e.g. 0.0.0.0/1 + 128.0.0.0/1).",
        "mandatory",
        check_rule,
    ),
    ResourceSpec(
        "no-weak-key-pair",
        "Key pairs are not RSA under 3072 bits (nor DSA).",
        "mandatory",
        check_key_pair,
    ),
    ResourceSpec(
        "required-tags",
        "Every taggable resource is tagged with environment and owner.",
        "advisory",
        check_tags,
    ),
)

STACK_SPECS: tuple[StackSpec, ...] = (
    StackSpec(
        "public-instances-hardened",
        "Every ECS instance with a public IP (its own or an EIP) has an SshdHardening resource "
        "that targets it and whose overrides do not re-open password, keyboard-interactive, "
        "root-password or empty-password logins (nor turn public keys off).",
        "mandatory",
        check_instances_hardened,
    ),
    StackSpec(
        "closed-from-first-boot",
        "Every public ECS instance's user data writes an sshd drop-in with PermitRootLogin no, "
        "PasswordAuthentication no and keyboard-interactive off at boot, and every "
        "SshdHardening pins its first connection's host key (expectedHostKeyFingerprint).",
        "mandatory",
        check_closed_from_first_boot,
    ),
    StackSpec(
        "prod-protection",
        "Production stacks use deletion protection and an EIP.",
        "advisory",
        check_prod_protection,
    ),
)
