"""The stack configuration, read and checked before the program registers any resource.

``load_stack_config()`` returns a typed :class:`StackConfig` or raises :class:`ConfigError`
listing every problem at once, each naming the key, what is wrong and the command that fixes it.
``ConfigError`` is a ``pulumi.RunError``, which ``pulumi up`` prints without a traceback.

The private key (``sshPrivateKey``) is used by the hardening step, not by any resource here.
A preview runs without it (with a warning) so that the committed stack files, which carry no
private key, can be checked anywhere; a deployment (``pulumi up``) refuses to start without it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components import sshkeys
from components.images import IMAGE_NAME_PATTERNS
from hardening.admin_account import admin_name_problem
from hardening.desired import validate_request
from hardening.values import directive_text, is_scalar

NAMESPACE = "hardened-ecs"

# Defaults; Pulumi.yaml declares the same ones (a test keeps the two in step).
DEFAULTS: dict[str, Any] = {
    "adminUser": "ops",
    "instanceCount": 1,
    "instanceType": "ecs.t6-c1m2.large",
    "image": "ubuntu-22.04",
    "vpcCidr": "172.16.0.0/16",
    "vswitchCidr": "172.16.1.0/24",
    "internetMaxBandwidthOut": 5,
    "systemDiskCategory": "cloud_essd",
    "allowSshFromAnywhere": False,
    "sshPort": 22,
    "deletionProtection": False,
    "elasticIp": False,
    "tags": {},
    "hardening": {"profile": "baseline", "set": {}},
}

INSTANCE_COUNT_RANGE = (1, 50)
BANDWIDTH_RANGE = (1, 100)
DISK_CATEGORIES = ("cloud_essd", "cloud_essd_entry", "cloud_auto", "cloud_ssd", "cloud_efficiency")
SUPPORTED_SSH_PORT = 22
# A source range this wide is "anywhere", not "your own ranges": no organisation's network is
# an IPv4 block larger than a /8 (16.7 M addresses, the largest ever handed out), nor an IPv6
# block larger than a /16 (regional registries themselves hold /12s, ISPs /19 to /32). Without
# this, 0.0.0.0/1 + 128.0.0.0/1 would open SSH to everyone while avoiding /0.
# policy/guardrails/ssh_ingress.py uses the same limits (a test keeps them in step).
ANYWHERE_BELOW_PREFIX = {4: 8, 6: 16}

_INSTANCE_TYPE = re.compile(r"ecs\.[a-z0-9]+(-[a-z0-9]+)*\.[a-z0-9]+")
_REGION = re.compile(r"[a-z]{2}(-[a-z0-9]+)+")
_IMAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{1,127}")
_VSWITCH_ID = re.compile(r"vsw-[a-z0-9]+")
_PRIVATE_V4 = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)


@dataclass(frozen=True)
class HardeningRequest:
    """The sshd profile and per-directive overrides, in ``python -m hardening``'s vocabulary."""

    profile: str
    overrides: Mapping[str, str]
    # `hardening.adoptAdminUser`: the admin account exists on the image already and is yours.
    adopt_admin: bool = False


@dataclass(frozen=True)
class StackConfig:
    """A checked stack configuration. Every field is valid; nothing here is a secret in clear."""

    stack: str
    region: str
    allowed_ssh_cidrs: tuple[str, ...]
    allow_ssh_from_anywhere: bool
    ssh_port: int
    ssh_public_key: str
    ssh_key_kind: str  # "rsa", "ecdsa" or "ed25519"
    # RSA/ECDSA: also imported as the ECS key pair (ImportKeyPair takes no ed25519).
    ssh_key_importable: bool
    admin_user: str
    instance_count: int
    instance_type: str
    image: str
    image_id: str | None
    zone_id: str | None
    vpc_cidr: str
    vswitch_cidr: str
    vswitch_id: str | None
    internet_max_bandwidth_out: int
    system_disk_category: str
    tags: Mapping[str, str]
    hardening: HardeningRequest
    # ECS deletion protection on every instance.
    deletion_protection: bool
    # An EIP per server as its public address (the instance then has no public IP of its own).
    elastic_ip: bool
    # Secret Output; None only during a preview without the key. Kept out of repr on purpose.
    ssh_private_key: pulumi.Output[str] | None = field(default=None, repr=False, compare=False)

    @property
    def name_prefix(self) -> str:
        """``hardened-ecs-<stack>`` in the characters every Alibaba name and host name accepts."""
        stack = re.sub(r"[^a-z0-9-]+", "-", self.stack.lower()).strip("-") or "stack"
        return f"{NAMESPACE}-{stack}"[:40].rstrip("-")

    @property
    def ssh_key_file(self) -> str:
        """The usual file of the operator's private key, for the printed ssh command."""
        return f"~/.ssh/id_{self.ssh_key_kind}"


class ConfigError(pulumi.RunError):
    """The stack configuration is unusable; ``problems`` lists every reason."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.problems = list(problems)
        listing = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"Stack '{stack}': {len(self.problems)} configuration problem(s); nothing was "
            f"created or changed.\n{listing}"
        )


def _set(key: str, value: str, *, path: bool = False) -> str:
    if path:  # quoted: [ ] and . must reach pulumi, not the shell
        return f"`pulumi config set --path '{NAMESPACE}:{key}' {value}`"
    return f"`pulumi config set {NAMESPACE}:{key} {value}`"


_PRIVATE_KEY_FIX = (
    "`cat ~/.ssh/id_rsa | pulumi config set --secret hardened-ecs:sshPrivateKey --` "
    "(the private half of sshPublicKey)"
)
_NEW_KEY_FIX = (
    "create one with `ssh-keygen -t rsa -b 3072` and "
    '`pulumi config set hardened-ecs:sshPublicKey "$(cat ~/.ssh/id_rsa.pub)"`'
)


class _Reader:
    """Reads raw config values and collects problems instead of stopping at the first."""

    def __init__(self, config: pulumi.Config) -> None:
        self.config = config
        self.problems: list[str] = []

    def problem(self, key: str, what: str, fix: str) -> None:
        self.problems.append(f"{NAMESPACE}:{key} {what}. Fix: {fix}")

    def raw(self, key: str) -> str | None:
        return self.config.get(key)

    def text(self, key: str) -> str:
        value = self.raw(key)
        return str(DEFAULTS[key]) if value is None else value

    def structured(self, key: str) -> Any:
        value = self.raw(key)
        if value is None:
            return DEFAULTS.get(key)
        try:
            return json.loads(value)
        except ValueError:
            # A plain string where a list or object is expected.
            return value

    def integer(self, key: str, bounds: tuple[int, int], why: str = "") -> int:
        default = int(DEFAULTS[key])
        value = self.raw(key)
        low, high = bounds
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            self.problem(key, f"must be a whole number, got {value!r}", _set(key, str(default)))
            return default
        if not low <= number <= high:
            self.problem(
                key, f"must be between {low} and {high}, got {number}{why}", _set(key, str(default))
            )
        return number

    def boolean(self, key: str, fix: str | None = None) -> bool:
        value = self.raw(key)
        if value is None:
            return bool(DEFAULTS[key])
        if value in ("true", "True"):
            return True
        if value in ("false", "False"):
            return False
        self.problem(key, f"must be true or false, got {value!r}", fix or _set(key, "false"))
        return bool(DEFAULTS[key])


def _region(r: _Reader) -> str:
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


def _cidrs(r: _Reader, allow_anywhere: bool) -> tuple[str, ...]:
    key = "allowedSshCidrs"
    example = _set(f"{key}[0]", "203.0.113.0/24", path=True)
    value = r.structured(key)
    if value is None or value == []:
        r.problem(
            key,
            "is missing: it lists who may reach SSH (your office or VPN ranges), and there is "
            "no safe default",
            example,
        )
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        r.problem(key, "must be a list of CIDR strings", example)
        return ()
    networks: list[str] = []
    for index, item in enumerate(value):
        item_fix = _set(f"{key}[{index}]", "203.0.113.0/24", path=True)
        try:
            network = ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            r.problem(key, f"item {index} {item!r} is not an IPv4 or IPv6 CIDR", item_fix)
            continue
        if network.network_address != ipaddress.ip_address(item.strip().split("/")[0]):
            single = f"{item.strip().split('/')[0]}/{network.max_prefixlen}"
            r.problem(
                key,
                f"item {index} {item!r} has host bits set: it means {network} (the network) "
                f"or {single} (one address)",
                _set(f"{key}[{index}]", str(network), path=True) + f" or {single}",
            )
            continue
        if network.prefixlen < ANYWHERE_BELOW_PREFIX[network.version] and not allow_anywhere:
            wide = (
                "the whole internet"
                if network.prefixlen == 0
                else f"a large part of the internet (wider than /"
                f"{ANYWHERE_BELOW_PREFIX[network.version]}: {network.num_addresses:.3g} addresses)"
            )
            r.problem(
                key,
                f"item {index} {item!r} opens SSH to {wide}",
                f"list only your own ranges, e.g. {item_fix}; if you really mean it, "
                f"{_set('allowSshFromAnywhere', 'true')}",
            )
            continue
        if str(network) in networks:
            r.problem(key, f"item {index} {item!r} is listed twice", f"remove item {index}")
            continue
        networks.append(str(network))
    return tuple(networks)


def _ssh_port(r: _Reader) -> int:
    value = r.raw("sshPort")
    if value is not None and value.strip() != str(SUPPORTED_SSH_PORT):
        # Until the security group, the hardening step and sshCommand move together.
        r.problem(
            "sshPort",
            f"is {value!r}, but only {SUPPORTED_SSH_PORT} is supported end to end for now",
            "`pulumi config rm hardened-ecs:sshPort`",
        )
    return SUPPORTED_SSH_PORT


def _admin_user(r: _Reader) -> tuple[str, bool]:
    user = r.text("adminUser")
    fix = _set("adminUser", "ops")
    before = len(r.problems)
    problem = admin_name_problem(user)  # the engine's own rule, also for --admin-user
    if problem:
        r.problem("adminUser", f"{user!r} is not usable: {problem}", fix)
    return user, len(r.problems) == before


def _public_key(r: _Reader) -> sshkeys.PublicKeyInfo | None:
    text = r.raw("sshPublicKey")
    if text is None or not text.strip():
        r.problem(
            "sshPublicKey",
            "is missing: the key pair for the servers and the admin user's login key",
            _NEW_KEY_FIX,
        )
        return None
    try:
        return sshkeys.parse_public_key(text)
    except sshkeys.KeyProblem as exc:
        r.problem("sshPublicKey", str(exc), _NEW_KEY_FIX)
        return None


def _private_key(r: _Reader, public: sshkeys.PublicKeyInfo | None) -> pulumi.Output[str] | None:
    key = "sshPrivateKey"
    full = f"{NAMESPACE}:{key}"
    text = r.raw(key)
    if text is None:
        if pulumi.runtime.is_dry_run():
            pulumi.log.warn(
                f"{full} is not set: this preview is fine, but `pulumi up` will refuse to "
                f"deploy until it is. Set it with {_PRIVATE_KEY_FIX}"
            )
        else:
            what = "is missing: the hardening step logs in to the servers with it"
            r.problem(key, what, _PRIVATE_KEY_FIX)
        return None
    if not pulumi.runtime.is_config_secret(full):
        r.problem(
            key,
            "is stored in plain text in the stack file",
            f"`pulumi config rm {full}`, then {_PRIVATE_KEY_FIX}; and replace the key if the "
            "file was shared",
        )
    if public is not None:
        try:
            sshkeys.private_key_matches(text, public)
        except sshkeys.KeyProblem as exc:
            r.problem(key, str(exc), _PRIVATE_KEY_FIX)
    return pulumi.Output.secret(text)


def _image(r: _Reader) -> tuple[str, str | None]:
    image = r.text("image")
    if image not in IMAGE_NAME_PATTERNS:
        r.problem(
            "image",
            f"{image!r} is not a known OS; use one of {', '.join(sorted(IMAGE_NAME_PATTERNS))}",
            _set("image", "ubuntu-22.04"),
        )
    image_id = r.raw("imageId")
    if image_id is not None and not _IMAGE_ID.fullmatch(image_id):
        r.problem(
            "imageId",
            f"{image_id!r} is not an image id",
            "`pulumi config set hardened-ecs:imageId ubuntu_22_04_x64_20G_alibase_20240926.vhd` "
            "(see the console's image list) or `pulumi config rm hardened-ecs:imageId`",
        )
    return image, image_id


def _instance_type(r: _Reader) -> str:
    value = r.text("instanceType")
    if not _INSTANCE_TYPE.fullmatch(value):
        r.problem(
            "instanceType",
            f"{value!r} is not an ECS instance type such as ecs.t6-c1m2.large",
            _set("instanceType", str(DEFAULTS["instanceType"])),
        )
    return value


def _network(r: _Reader, region: str) -> tuple[str, str, str | None, str | None]:
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
            _set("vswitchCidr", str(next(vpc.subnets(new_prefix=max(vpc.prefixlen, 24))))),
        )
    return vpc_cidr, vswitch_cidr, None, zone_id


def _private_network(
    r: _Reader, key: str, value: str, prefixes: tuple[int, int]
) -> ipaddress.IPv4Network | None:
    fix = _set(key, str(DEFAULTS[key]))
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


def _tags(r: _Reader) -> dict[str, str]:
    fix = _set("tags.owner", "platform-team", path=True)
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


def _hardening(r: _Reader, admin_user: str) -> HardeningRequest:
    key = "hardening"
    value = r.structured(key)
    profile_fix = _set("hardening.profile", "baseline", path=True)
    if not isinstance(value, dict):
        r.problem(key, "must be a map with 'profile' and 'set'", profile_fix)
        return HardeningRequest("baseline", {})
    for unknown in sorted(set(value) - {"profile", "set", "adoptAdminUser"}):
        r.problem(
            key,
            f"has an unknown entry {unknown!r} (expected 'profile', 'set', 'adoptAdminUser')",
            f"`pulumi config rm --path '{NAMESPACE}:hardening.{unknown}'`",
        )
    profile = value.get("profile", "baseline")
    raw_set = value.get("set") or {}
    if not isinstance(profile, str):
        r.problem(key, "profile must be a name", profile_fix)
        profile = "baseline"
    if not isinstance(raw_set, dict):
        r.problem(key, "set must be a map of sshd directive to value", "see README, Hardening")
        raw_set = {}
    overrides: dict[str, str] = {}
    for name, raw in raw_set.items():
        text = directive_text(raw) if is_scalar(raw) else None
        if text is None:
            r.problem(
                key,
                f"set.{name} must be a single value",
                _set(f"hardening.set.{name}", "<value>", path=True),
            )
            continue
        overrides[str(name)] = text

    # Ask the hardening engine, then attribute each answer to the entry that caused it.
    seen = set(validate_request(profile, {}, admin_user))
    for problem in sorted(seen):
        r.problem(key, f"profile: {problem}", profile_fix)
    for name, text in overrides.items():
        for problem in validate_request(profile, {name: text}, admin_user):
            if problem not in seen:
                seen.add(problem)
                # The engine's messages mostly start with the directive already.
                named = problem.lower().startswith(name.lower())
                r.problem(
                    key,
                    f"set.{problem}" if named else f"set.{name}: {problem}",
                    f"`pulumi config set --path '{NAMESPACE}:hardening.set.{name}' <value>` or "
                    f"`pulumi config rm --path '{NAMESPACE}:hardening.set.{name}'`",
                )
    for problem in validate_request(profile, overrides, admin_user):
        if problem not in seen:
            r.problem(key, f"set: {problem}", "change or remove one of the listed overrides")
    adopt = value.get("adoptAdminUser", False)
    if not isinstance(adopt, bool):
        r.problem(
            key,
            f"adoptAdminUser must be true or false, not {adopt!r}",
            f"`pulumi config set --path --type bool '{NAMESPACE}:hardening.adoptAdminUser' true`",
        )
        adopt = False
    return HardeningRequest(profile, overrides, adopt)


def load_stack_config(config: pulumi.Config | None = None) -> StackConfig:
    """Read the ``hardened-ecs`` namespace; raise ConfigError listing every problem."""
    r = _Reader(config or pulumi.Config(NAMESPACE))
    region = _region(r)
    allow_anywhere = r.boolean("allowSshFromAnywhere")
    cidrs = _cidrs(r, allow_anywhere)
    ssh_port = _ssh_port(r)
    admin_user, admin_ok = _admin_user(r)
    public = _public_key(r)
    private = _private_key(r, public)
    instance_count = r.integer("instanceCount", INSTANCE_COUNT_RANGE)
    instance_type = _instance_type(r)
    image, image_id = _image(r)
    vpc_cidr, vswitch_cidr, vswitch_id, zone_id = _network(r, region)
    bandwidth = r.integer(
        "internetMaxBandwidthOut",
        BANDWIDTH_RANGE,
        why=" (0 means no public IP: nothing could reach or harden the servers)",
    )
    disk = r.text("systemDiskCategory")
    if disk not in DISK_CATEGORIES:
        r.problem(
            "systemDiskCategory",
            f"{disk!r} is not one of {', '.join(DISK_CATEGORIES)}",
            _set("systemDiskCategory", "cloud_essd"),
        )
    tags = _tags(r)
    deletion_protection = r.boolean(
        "deletionProtection",
        f"{_set('deletionProtection', 'true')} (or false: servers can be released)",
    )
    elastic_ip = r.boolean(
        "elasticIp",
        f"{_set('elasticIp', 'true')} (or false: each server's own public IP)",
    )
    # A bad adminUser is reported above, with its fix; checking the hardening request against it
    # would only repeat that. The default stands in until it is fixed.
    hardening = _hardening(r, admin_user if admin_ok else str(DEFAULTS["adminUser"]))

    stack = pulumi.get_stack()
    if r.problems:
        raise ConfigError(stack, r.problems)
    assert public is not None  # a missing or bad key is a problem above
    return StackConfig(
        stack=stack,
        region=region,
        allowed_ssh_cidrs=cidrs,
        allow_ssh_from_anywhere=allow_anywhere,
        ssh_port=ssh_port,
        ssh_public_key=public.line,
        ssh_key_kind=public.kind,
        ssh_key_importable=public.importable,
        admin_user=admin_user,
        instance_count=instance_count,
        instance_type=instance_type,
        image=image,
        image_id=image_id,
        zone_id=zone_id,
        vpc_cidr=vpc_cidr,
        vswitch_cidr=vswitch_cidr,
        vswitch_id=vswitch_id,
        internet_max_bandwidth_out=bandwidth,
        system_disk_category=disk,
        tags=tags,
        hardening=hardening,
        deletion_protection=deletion_protection,
        elastic_ip=elastic_ip,
        ssh_private_key=private,
    )
