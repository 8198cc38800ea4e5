"""The stack configuration, read and checked before the program registers any resource.

``load_stack_config()`` returns a typed :class:`StackConfig` or raises :class:`ConfigError`
listing every problem at once, each naming the key, what is wrong and the command that fixes it.
``ConfigError`` is a ``pulumi.RunError``, which ``pulumi up`` prints without a traceback.

The private key (``sshPrivateKey``) is used by the hardening step, not by any resource here.
A preview runs without it (with a warning) so that the committed stack files, which carry no
private key, can be checked anywhere; a deployment (``pulumi up``) refuses to start without it.

The sections are read by config_access.py (SSH access and keys), config_servers.py (region,
instances, network, tags) and config_hardening.py (the sshd request), through config_reader.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components.config_access import (
    ANYWHERE_BELOW_PREFIX,
    read_admin_user,
    read_private_key,
    read_public_key,
    read_ssh_cidrs,
    read_ssh_port,
)
from components.config_hardening import HardeningRequest, read_hardening
from components.config_reader import DEFAULTS, NAMESPACE, Reader, config_set
from components.config_servers import (
    BANDWIDTH_RANGE,
    INSTANCE_COUNT_RANGE,
    read_disk_category,
    read_image,
    read_instance_type,
    read_network,
    read_region,
    read_tags,
)

# Imported from here by the tests and the policy pack's cross-check.
__all__ = [
    "ANYWHERE_BELOW_PREFIX",
    "DEFAULTS",
    "NAMESPACE",
    "ConfigError",
    "HardeningRequest",
    "StackConfig",
    "load_stack_config",
]


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


def load_stack_config(config: pulumi.Config | None = None) -> StackConfig:
    """Read the ``hardened-ecs`` namespace; raise ConfigError listing every problem."""
    r = Reader(config or pulumi.Config(NAMESPACE))
    region = read_region(r)
    allow_anywhere = r.boolean("allowSshFromAnywhere")
    cidrs = read_ssh_cidrs(r, allow_anywhere)
    ssh_port = read_ssh_port(r)
    admin_user, admin_ok = read_admin_user(r)
    public = read_public_key(r)
    private = read_private_key(r, public)
    instance_count = r.integer("instanceCount", INSTANCE_COUNT_RANGE)
    instance_type = read_instance_type(r)
    image, image_id = read_image(r)
    vpc_cidr, vswitch_cidr, vswitch_id, zone_id = read_network(r, region)
    bandwidth = r.integer(
        "internetMaxBandwidthOut",
        BANDWIDTH_RANGE,
        why=" (0 means no public IP: nothing could reach or harden the servers)",
    )
    disk = read_disk_category(r)
    tags = read_tags(r)
    deletion_protection = r.boolean(
        "deletionProtection",
        f"{config_set('deletionProtection', 'true')} (or false: servers can be released)",
    )
    elastic_ip = r.boolean(
        "elasticIp",
        f"{config_set('elasticIp', 'true')} (or false: each server's own public IP)",
    )
    # A bad adminUser is reported above, with its fix; checking the hardening request against it
    # would only repeat that. The default stands in until it is fixed.
    hardening = read_hardening(r, admin_user if admin_ok else str(DEFAULTS["adminUser"]))

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
