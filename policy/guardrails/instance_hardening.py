"""Mandatory (stack): every ECS instance with a public IP has an SshdHardening that hardens it.

Public means its own public IP (`internetMaxBandwidthOut` > 0) or an EIP bound to it by an
`EipAssociation`: an instance that takes an EIP has bandwidth 0 (Alibaba refuses to bind an EIP
to an instance with a public IP of its own), yet it is just as reachable. The hardening of such
an instance may be tied to the instance itself or to its association or EIP (its `host` is the
EIP's address).

A hardening counts for an instance only if nothing known says it connects elsewhere: when its
`host` and the instance's addresses (its `publicIp`, its EIPs' `ipAddress`) are known, the host
must be one of them. And a hardening whose `overrides` re-open authentication (passwords,
keyboard-interactive, root with a password, empty passwords, no public keys) hardens nothing: it
is reported itself.

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
from collections.abc import Mapping, Sequence

from .links import pair_up, references
from .model import Finding, Resource, RuleContext, config_key, get, label, peek

INSTANCE_TYPE = "alicloud:ecs/instance:Instance"
EIP_TYPE = "alicloud:ecs/eipAddress:EipAddress"
EIP_ASSOCIATION_TYPE = "alicloud:ecs/eipAssociation:EipAssociation"
HARDENING_NAME = "SshdHardening"
DYNAMIC_PREFIX = "pulumi-python:dynamic"
# What the pickled provider of our dynamic resource mentions (class or module name).
PROVIDER_MARKERS = (b"SshdHardening", b"sshd_hardening")
# Override values (sshd keywords are case-insensitive) that re-open a way in.
REOPENING = {
    "passwordauthentication": "yes",
    "kbdinteractiveauthentication": "yes",
    "challengeresponseauthentication": "yes",
    "permitrootlogin": "yes",
    "permitemptypasswords": "yes",
    "pubkeyauthentication": "no",
}


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


def _yes_no(value: object) -> str:
    if isinstance(value, bool):  # YAML/JSON true/false for a yes/no directive
        return "yes" if value else "no"
    return str(value).strip().lower()


def reopened(hardening: Resource) -> list[str]:
    """The overrides of `hardening` that re-open authentication, as `Directive=value`."""
    overrides = get(hardening["props"], "overrides")
    if not isinstance(overrides, Mapping):
        return []
    found = []
    for name in overrides:
        value = get(overrides, name)
        if value is not None and REOPENING.get(str(name).lower()) == _yes_no(value):
            found.append(f"{name}={_yes_no(value)}")
    return found


def addresses(instance: Resource, fronts: Sequence[Resource]) -> set[str]:
    """The known public addresses of `instance`: its own and those of its EIPs."""
    values = [peek(instance["props"], "publicIp")]
    values += [peek(f["props"], "ipAddress") for f in fronts if f["type"] == EIP_TYPE]
    return {v for v in values if isinstance(v, str) and v}


def host_fits(hardening: Resource, instance: Resource, fronts: Sequence[Resource]) -> bool:
    """False only when the hardening's host and the instance's addresses are known and differ."""
    host = peek(hardening["props"], "host")
    known = addresses(instance, fronts)
    return not (isinstance(host, str) and host and known) or host in known


def check_instances_hardened(resources: Sequence[Resource], ctx: RuleContext) -> list[Finding]:
    instances = [r for r in resources if r["type"] == INSTANCE_TYPE]
    fronts = {id(r): eip_fronts(r, resources) for r in instances}
    public = [r for r in instances if has_public_ip(r) or fronts[id(r)]]
    hardenings = [r for r in resources if is_sshd_hardening(r)]

    def fits(hardening: Resource, instance: Resource) -> bool:
        return host_fits(hardening, instance, fronts[id(instance)])

    def hardens(hardening: Resource, instance: Resource) -> bool:
        linked = references(hardening, instance) or any(
            references(hardening, front) for front in fronts[id(instance)]
        )
        return linked and fits(hardening, instance)

    findings: list[Finding] = [
        Finding(
            f"SshdHardening {label(h)} re-opens authentication through its overrides "
            f"({', '.join(weak)}): its server is not hardened",
            urn=h.get("urn"),
            config_key=config_key("hardening"),
        )
        for h in hardenings
        if (weak := reopened(h))
    ]
    for r in pair_up(public, hardenings, resources, link=hardens, sibling_fits=fits):
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
