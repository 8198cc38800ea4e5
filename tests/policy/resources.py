"""The plain resource dicts the policy rules are tested on (the rules are plain functions)."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization

from policy.guardrails.model import Resource, RuleContext

CTX = RuleContext(stack="dev")
RULE = "alicloud:ecs/securityGroupRule:SecurityGroupRule"
INSTANCE = "alicloud:ecs/instance:Instance"
KEY_PAIR = "alicloud:ecs/ecsKeyPair:EcsKeyPair"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def urn(stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::hardened-ecs::{type_}::{name}"


def ssh_rule(**overrides: Any) -> dict[str, Any]:
    props = {
        "type": "ingress",
        "ipProtocol": "tcp",
        "portRange": "22/22",
        "cidrIp": "203.0.113.0/24",
        "policy": "accept",
        "nicType": "intranet",
    }
    props.update(overrides)
    return props


def openssh(key: Any) -> str:
    raw: bytes = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return raw.decode()


def instance(name: str, bandwidth: int = 5, parent: str | None = None) -> Resource:
    res: Resource = {
        "type": INSTANCE,
        "name": name,
        "urn": urn("dev", INSTANCE, name),
        "props": {"internetMaxBandwidthOut": bandwidth},
    }
    if parent:
        res["parent"] = parent
    return res
