"""Advisory (stack): production stacks protect their servers and give them an EIP.

Deletion protection stops a console click or API call from destroying a server;
an EIP keeps the address stable across stop/start and instance replacement.
"""

from __future__ import annotations

from collections.abc import Sequence

from .links import pair_up
from .model import Finding, Resource, RuleContext, get, label

INSTANCE_TYPE = "alicloud:ecs/instance:Instance"
EIP_TYPE = "alicloud:ecs/eipAddress:EipAddress"
EIP_ASSOCIATION_TYPE = "alicloud:ecs/eipAssociation:EipAssociation"


def is_prod(stack: str) -> bool:
    """A production stack by name: exactly ``prod``, or ``prod-<suffix>`` / ``<prefix>-prod``
    (case-insensitive). ``nonprod``, ``preprod`` or ``production`` are not; see docs/gitops.md."""
    parts = stack.strip().lower().split("-")
    return parts[0] == "prod" or parts[-1] == "prod"


def check_prod_protection(resources: Sequence[Resource], ctx: RuleContext) -> list[Finding]:
    if not is_prod(ctx.stack):
        return []
    instances = [r for r in resources if r["type"] == INSTANCE_TYPE]
    findings = [
        Finding(
            f"prod stack: ECS instance {label(r)} has no deletionProtection",
            urn=r.get("urn"),
        )
        for r in instances
        if get(r["props"], "deletionProtection") is not True
    ]
    if instances and not any(r["type"] == EIP_TYPE for r in resources):
        findings.append(Finding("prod stack: no EIP (alicloud.ecs.EipAddress) in the stack"))
    associations = [r for r in resources if r["type"] == EIP_ASSOCIATION_TYPE]
    findings.extend(
        Finding(
            f"prod stack: ECS instance {label(r)} has no EIP association; "
            "its public address changes when it is replaced",
            urn=r.get("urn"),
        )
        for r in pair_up(instances, associations, resources)
    )
    return findings
