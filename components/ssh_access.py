"""SshAccess: a security group that lets SSH in from the listed CIDRs and nothing else in."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud


@dataclass(frozen=True)
class SshAccessArgs:
    """``allowed_cidrs`` must be validated network CIDRs (IPv4 or IPv6), one rule each."""

    vpc_id: pulumi.Input[str]
    allowed_cidrs: Sequence[str]
    port: int = 22
    resource_name_prefix: str = "hardened-ecs"
    tags: Mapping[str, str] = field(default_factory=dict)


def rule_name(cidr: str, port: int = 22) -> str:
    """A rule's logical name from its CIDR and port, so adding or removing one CIDR touches only
    its rule, and a new sshPort is a new rule for every CIDR, not an edit of the old one.

    Not the list index: removing the first CIDR would otherwise rewrite every later rule. ":" is
    replaced because "::" separates the parts of a URN; the mapping stays one-to-one. Port 22
    keeps the name its rules had before ports could change (no existing stack loses a rule).

    Why a new name per port: moving SSH must never leave a moment with no rule for the port
    sshd listens on. The servers' SshdHardening depends on the rules of the new port, so those
    are created before any server is asked to listen there; the old port's rules are no longer
    in the program, and Pulumi deletes such resources only once the program has finished and
    every create and update is done ("we do not start processing destroys until the program
    has finished executing [...] any destroys do not occur until all other creates and updates
    have finished", pulumi/pulumi#19096; "Pulumi deletes resources last after running the
    program", pulumi/pulumi#16589; since pulumi/pulumi#11027 also the pending deletes of an
    interrupted update): so the old port stays open until every server has moved.
    tests/pulumi/test_port_move_order.py shows that order with the real engine.
    """
    name = "from-" + str(ipaddress.ip_network(cidr)).replace(":", "-").replace("/", "_")
    return name if port == 22 else f"port-{port}-{name}"


class SshAccess(pulumi.ComponentResource):
    """Outputs: ``security_group_id``; ``rules`` (the ingress rules, for ``depends_on``)."""

    security_group_id: pulumi.Output[str]
    rules: list[alicloud.ecs.SecurityGroupRule]

    def __init__(
        self, name: str, args: SshAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("hardened-ecs:ssh_access:SshAccess", name, None, opts)
        group = alicloud.ecs.SecurityGroup(
            f"{name}-group",
            security_group_name=f"{args.resource_name_prefix}-ssh",
            description="hardened-ecs: SSH from the allowed CIDRs only",
            vpc_id=args.vpc_id,
            security_group_type="normal",
            # Members of the group get no implicit access to each other either.
            inner_access_policy="Drop",
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.rules = []
        for cidr in args.allowed_cidrs:
            v6 = ipaddress.ip_network(cidr).version == 6
            self.rules.append(
                alicloud.ecs.SecurityGroupRule(
                    f"{name}-{rule_name(cidr, args.port)}",
                    security_group_id=group.id,
                    type="ingress",
                    ip_protocol="tcp",
                    port_range=f"{args.port}/{args.port}",
                    nic_type="intranet",  # required for VPC security groups
                    policy="accept",
                    priority=1,
                    cidr_ip=None if v6 else cidr,
                    ipv6_cidr_ip=cidr if v6 else None,
                    # As it always was on 22: a new description would replace the rule.
                    description=f"hardened-ecs: SSH from {cidr}"
                    if args.port == 22
                    else f"hardened-ecs: SSH on port {args.port} from {cidr}",
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        self.security_group_id = group.id
        self.register_outputs({"securityGroupId": self.security_group_id})
