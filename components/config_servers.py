"""Where and what to deploy: region, instances, image, disk, network and tags."""

from __future__ import annotations

import ipaddress
import os
import re

import pulumi

from components.config_reader import DEFAULTS, NAMESPACE, Reader, config_set
from components.images import IMAGE_NAME_PATTERNS

INSTANCE_COUNT_RANGE = (1, 50)
BANDWIDTH_RANGE = (1, 100)
DISK_CATEGORIES = ("cloud_essd", "cloud_essd_entry", "cloud_auto", "cloud_ssd", "cloud_efficiency")
_INSTANCE_TYPE = re.compile(r"ecs\.[a-z0-9]+(-[a-z0-9]+)*\.[a-z0-9]+")
_REGION = re.compile(r"[a-z]{2}(-[a-z0-9]+)+")
_IMAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{1,127}")
_VSWITCH_ID = re.compile(r"vsw-[a-z0-9]+")
_PRIVATE_V4 = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)


def read_region(r: Reader) -> str:
    region = pulumi.Config("alicloud").get("region") or os.environ.get(
        "ALIBABA_CLOUD_REGION", os.environ.get("ALICLOUD_REGION", "")
    )
    if not region:
        r.problems.append(
            "alicloud:region is not set: the region to deploy to. "
            "Fix: `pulumi config set alicloud:region cn-hangzhou`"
        )
    elif not _REGION.fullmatch(region):
        r.problems.append(
            f"alicloud:region {region!r} is not a region id such as cn-hangzhou or eu-central-1. "
            "Fix: `pulumi config set alicloud:region cn-hangzhou`"
        )
    return region


def read_disk_category(r: Reader) -> str:
    categories = ", ".join(DISK_CATEGORIES)
    return r.one_of("systemDiskCategory", DISK_CATEGORIES, f"one of {categories}", "cloud_essd")


def read_image(r: Reader) -> tuple[str, str | None]:
    known = f"a known OS; use one of {', '.join(sorted(IMAGE_NAME_PATTERNS))}"
    image = r.one_of("image", IMAGE_NAME_PATTERNS, known, "ubuntu-22.04")
    image_id = r.raw("imageId")
    if image_id is not None and not _IMAGE_ID.fullmatch(image_id):
        r.problem(
            "imageId",
            f"{image_id!r} is not an image id",
            "`pulumi config set hardened-ecs:imageId ubuntu_22_04_x64_20G_alibase_20240926.vhd` "
            "(see the console's image list) or `pulumi config rm hardened-ecs:imageId`",
        )
    return image, image_id


def read_instance_type(r: Reader) -> str:
    value = r.text("instanceType")
    if not _INSTANCE_TYPE.fullmatch(value):
        r.problem(
            "instanceType",
            f"{value!r} is not an ECS instance type such as ecs.t6-c1m2.large",
            config_set("instanceType", str(DEFAULTS["instanceType"])),
        )
    return value


def read_network(r: Reader, region: str) -> tuple[str, str, str | None, str | None]:
    vswitch_id = r.raw("vswitchId")
    zone_id = r.raw("zoneId")
    vpc_cidr, vswitch_cidr = r.text("vpcCidr"), r.text("vswitchCidr")
    if (
        zone_id is not None
        and region
        and not (zone_id.startswith(region) and len(zone_id) > len(region))
    ):
        r.problem(
            "zoneId",
            f"{zone_id!r} is not a zone of {region} (zones look like {region}-h)",
            "`pulumi config rm hardened-ecs:zoneId` to let the program choose one",
        )
    if vswitch_id is not None:
        if not _VSWITCH_ID.fullmatch(vswitch_id):
            r.problem(
                "vswitchId",
                f"{vswitch_id!r} is not a VSwitch id (vsw-…)",
                "`pulumi config rm hardened-ecs:vswitchId` to create a network instead",
            )
        if zone_id is not None:
            r.problem(
                "zoneId",
                "is set together with vswitchId, but an existing VSwitch decides the zone",
                "`pulumi config rm hardened-ecs:zoneId`",
            )
        return vpc_cidr, vswitch_cidr, vswitch_id, None

    vpc = _private_network(r, "vpcCidr", vpc_cidr, (8, 28))
    vsw = _private_network(r, "vswitchCidr", vswitch_cidr, (16, 29))
    if vpc is not None and vsw is not None and not vsw.subnet_of(vpc):
        r.problem(
            "vswitchCidr",
            f"{vswitch_cidr} is not inside vpcCidr {vpc_cidr}",
            config_set("vswitchCidr", str(next(vpc.subnets(new_prefix=max(vpc.prefixlen, 24))))),
        )
    return vpc_cidr, vswitch_cidr, None, zone_id


def _private_network(
    r: Reader, key: str, value: str, prefixes: tuple[int, int]
) -> ipaddress.IPv4Network | None:
    fix = config_set(key, str(DEFAULTS[key]))
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        r.problem(key, f"{value!r} is not an IPv4 CIDR without host bits", fix)
        return None
    low, high = prefixes
    if not any(network.subnet_of(p) for p in _PRIVATE_V4):
        r.problem(key, f"{value} is not inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16", fix)
    elif not low <= network.prefixlen <= high:
        r.problem(key, f"{value}: the prefix length must be between /{low} and /{high}", fix)
    else:
        return network
    return None


def read_tags(r: Reader) -> dict[str, str]:
    fix = config_set("tags.owner", "platform-team", path=True)
    value = r.structured("tags")
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        r.problem("tags", "must be a map of text keys to text values", fix)
        return {}
    for k, v in value.items():
        if k.lower().startswith(("aliyun", "acs:")) or not 1 <= len(k) <= 128 or len(v) > 128:
            r.problem(
                "tags",
                f"key {k!r} is not allowed (1-128 characters, not starting with aliyun or acs:; "
                "values up to 128)",
                f"`pulumi config rm --path '{NAMESPACE}:tags.{k}'`",
            )
    return dict(value)
