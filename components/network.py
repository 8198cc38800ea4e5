"""Network: a new VPC with one VSwitch, or an existing VSwitch (and its VPC) used as it is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud


@dataclass(frozen=True)
class NetworkArgs:
    """Where the servers live.

    With ``existing_vswitch_id`` nothing is created: the VSwitch's VPC and zone are looked up.
    Otherwise a VPC (``vpc_cidr``) and a VSwitch (``vswitch_cidr``) are created in ``zone_id``,
    or, without it, in the first zone that sells ``instance_type`` with ``system_disk_category``.
    """

    instance_type: str
    system_disk_category: str
    vpc_cidr: str = "172.16.0.0/16"
    vswitch_cidr: str = "172.16.1.0/24"
    zone_id: str | None = None
    existing_vswitch_id: str | None = None
    resource_name_prefix: str = "hardened-ecs"
    tags: Mapping[str, str] = field(default_factory=dict)


class Network(pulumi.ComponentResource):
    """Outputs: ``vpc_id``, ``vswitch_id``, ``zone_id``."""

    vpc_id: pulumi.Output[str]
    vswitch_id: pulumi.Output[str]
    zone_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("hardened-ecs:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)

        if args.existing_vswitch_id is not None:
            found = alicloud.vpc.get_switches_output(ids=[args.existing_vswitch_id], opts=invoke)
            wanted = args.existing_vswitch_id

            def only(
                switches: list[alicloud.vpc.outputs.GetSwitchesVswitchResult],
            ) -> alicloud.vpc.outputs.GetSwitchesVswitchResult:
                if len(switches) != 1:
                    raise pulumi.RunError(
                        f"hardened-ecs:vswitchId {wanted} was not found in this region; check the "
                        "id or `pulumi config rm hardened-ecs:vswitchId` to create a network"
                    )
                return switches[0]

            switch = found.vswitches.apply(only)
            self.vpc_id = switch.apply(lambda s: str(s.vpc_id))
            self.vswitch_id = switch.apply(lambda s: str(s.id))
            self.zone_id = switch.apply(lambda s: str(s.zone_id))
        else:
            zone: pulumi.Input[str]
            if args.zone_id is not None:
                zone = args.zone_id
            else:
                zone = _first_zone(args.instance_type, args.system_disk_category, invoke)
            vpc = alicloud.vpc.Network(
                f"{name}-vpc",
                vpc_name=args.resource_name_prefix,
                cidr_block=args.vpc_cidr,
                description="hardened-ecs: network of the hardened SSH servers",
                tags=dict(args.tags),
                opts=child,
            )
            vswitch = alicloud.vpc.Switch(
                f"{name}-vswitch",
                vswitch_name=args.resource_name_prefix,
                vpc_id=vpc.id,
                cidr_block=args.vswitch_cidr,
                zone_id=zone,
                description="hardened-ecs: subnet of the hardened SSH servers",
                tags=dict(args.tags),
                # The zone look-up may answer differently later (a zone sells out); a running
                # subnet must not be replaced for that.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["zone_id"])
                if args.zone_id is None
                else child,
            )
            self.vpc_id = vpc.id
            self.vswitch_id = vswitch.id
            self.zone_id = vswitch.zone_id

        self.register_outputs(
            {"vpcId": self.vpc_id, "vswitchId": self.vswitch_id, "zoneId": self.zone_id}
        )


def _first_zone(
    instance_type: str, disk_category: str, opts: pulumi.InvokeOutputOptions
) -> pulumi.Output[str]:
    zones = alicloud.get_zones_output(
        available_resource_creation="VSwitch",
        available_instance_type=instance_type,
        available_disk_category=disk_category,
        instance_charge_type="PostPaid",
        opts=opts,
    )

    def first(ids: list[str]) -> str:
        if not ids:
            raise pulumi.RunError(
                f"no zone in this region sells {instance_type} with {disk_category} disks; choose "
                "another hardened-ecs:instanceType, systemDiskCategory or alicloud:region"
            )
        return sorted(ids)[0]

    return zones.ids.apply(first)
