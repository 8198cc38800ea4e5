"""Mandatory (stack): every ECS instance with a public IP has an SshdHardening.

Public means its own public IP (`internetMaxBandwidthOut` > 0) or an EIP bound to it by an
`EipAssociation`: an instance that takes an EIP has bandwidth 0 (Alibaba refuses to bind an EIP
to an instance with a public IP of its own), yet it is just as reachable. The hardening of such
an instance may be tied to the instance itself or to its association or EIP (its `host` is the
EIP's address).

An SshdHardening is a `pulumi.dynamic.Resource`. Its type token is
`pulumi-python:dynamic:Resource` unless the subclass names itself
(`class X(Resource, module="hardening", name="SshdHardening")` ->
`pulumi-python:dynamic/hardening:SshdHardening`), so a generic dynamic resource is
recognised by its `__provider` input: base64 of the dill pickle of the provider,
which names the provider's class and module.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from .links import pair_up, references
from .model import Finding, Resource, RuleContext, config_key, get, label, peek

INSTANCE_TYPE = "alicloud:ecs/instance:Instance"
EIP_TYPE = "alicloud:ecs/eipAddress:EipAddress"
EIP_ASSOCIATION_TYPE = "alicloud:ecs/eipAssociation:EipAssociation"
HARDENING_NAME = "SshdHardening"
DYNAMIC_PREFIX = "pulumi-python:dynamic"
# What the pickled provider of our dynamic resource mentions (class or module name).
PROVIDER_MARKERS = (b"SshdHardening", b"sshd_hardening")


def has_public_ip(res: Resource) -> bool:
    bandwidth = get(res["props"], "internetMaxBandwidthOut")
    try:
        return bandwidth is not None and float(bandwidth) > 0
    except (TypeError, ValueError):
        return False


def provider_mentions_hardening(blob: object) -> bool:
    if not isinstance(blob, str) or not blob:
        return False
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return False
    # Only searched as bytes: unpickling untrusted state would run code.
    return any(marker in raw for marker in PROVIDER_MARKERS)


def is_sshd_hardening(res: Resource) -> bool:
    resource_type = res["type"]
    if resource_type.rsplit(":", 1)[-1] == HARDENING_NAME:
        return True
    if resource_type.startswith(DYNAMIC_PREFIX):
        return provider_mentions_hardening(peek(res["props"], "__provider"))
    return False


def eip_fronts(instance: Resource, resources: Sequence[Resource]) -> list[Resource]:
    """The EIP associations bound to `instance` and the EIPs they bind: its public face."""
    associations = [
        r for r in resources if r["type"] == EIP_ASSOCIATION_TYPE and references(r, instance)
    ]
    eips = [
        r
        for r in resources
        if r["type"] == EIP_TYPE and any(references(a, r) for a in associations)
    ]
    return associations + eips


def check_instances_hardened(resources: Sequence[Resource], ctx: RuleContext) -> list[Finding]:
    instances = [r for r in resources if r["type"] == INSTANCE_TYPE]
    fronts = {id(r): eip_fronts(r, resources) for r in instances}
    public = [r for r in instances if has_public_ip(r) or fronts[id(r)]]
    hardenings = [r for r in resources if is_sshd_hardening(r)]

    def hardens(hardening: Resource, instance: Resource) -> bool:
        return references(hardening, instance) or any(
            references(hardening, front) for front in fronts[id(instance)]
        )

    findings: list[Finding] = []
    for r in pair_up(public, hardenings, resources, link=hardens):
        via_eip = not has_public_ip(r)
        findings.append(
            Finding(
                f"ECS instance {label(r)} has a public IP"
                + (" (an EIP)" if via_eip else "")
                + " but no SshdHardening resource: its sshd keeps the image defaults",
                urn=r.get("urn"),
                config_key=config_key("elasticIp" if via_eip else "internetMaxBandwidthOut"),
            )
        )
    return findings
