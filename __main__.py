"""hardened-ecs: hardened SSH servers on Alibaba Cloud ECS, with one `pulumi up`.

Order of work: check the whole stack configuration (nothing is registered if it is wrong), then
network -> SSH security group and its rules -> login key pair (RSA/ECDSA only) -> N hardened
servers (components/hardened_server.py: each a boot host key, the instance closed from its first
boot, README "Boot sequence", and its sshd hardening) -> the exports.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.config import StackConfig, load_stack_config
from components.hardened_server import HardenedServer, HardenedServerArgs, MachineFactory
from components.images import latest_system_image
from components.login_key import LoginKey, LoginKeyArgs
from components.network import Network, NetworkArgs
from components.server import Server, ServerArgs
from components.ssh_access import SshAccess, SshAccessArgs
from components.sshd_hardening import key_or_unknown

cfg: StackConfig = load_stack_config()
tags = {"project": "hardened-ecs", "stack": cfg.stack, "managed-by": "pulumi", **cfg.tags}

network = Network(
    "network",
    NetworkArgs(
        instance_type=cfg.instance_type,
        system_disk_category=cfg.system_disk_category,
        vpc_cidr=cfg.vpc_cidr,
        vswitch_cidr=cfg.vswitch_cidr,
        zone_id=cfg.zone_id,
        existing_vswitch_id=cfg.vswitch_id,
        resource_name_prefix=cfg.name_prefix,
        tags=tags,
    ),
)
ssh_access = SshAccess(
    "ssh",
    SshAccessArgs(
        vpc_id=network.vpc_id,
        allowed_cidrs=cfg.allowed_ssh_cidrs,
        port=cfg.ssh_port,
        resource_name_prefix=cfg.name_prefix,
        tags=tags,
    ),
)
# The ECS key pair only for what ImportKeyPair takes: the admin user's key comes from the user
# data (any type), and root's SSH login is closed from the first boot anyway.
login_key = (
    LoginKey(
        "login",
        LoginKeyArgs(
            public_key=cfg.ssh_public_key, resource_name_prefix=cfg.name_prefix, tags=tags
        ),
    )
    if cfg.ssh_key_importable
    else None
)

# A pinned imageId is the operator's choice; otherwise the newest image, used at creation only.
image_id: pulumi.Input[str] = (
    cfg.image_id if cfg.image_id is not None else latest_system_image(cfg.image, cfg.instance_type)
)


def ecs_instance(index: int) -> MachineFactory:
    """Server `index`'s ECS instance (components/server.py), booting from the given user data."""

    def build(name: str, user_data: pulumi.Output[str], parent: pulumi.Resource) -> Server:
        args = ServerArgs(
            instance_type=cfg.instance_type,
            image_id=image_id,
            image_pinned=cfg.image_id is not None,
            vswitch_id=network.vswitch_id,
            security_group_id=ssh_access.security_group_id,
            key_pair_name=login_key.key_pair_name if login_key is not None else None,
            user_data=user_data,
            admin_user=cfg.admin_user,
            internet_max_bandwidth_out=cfg.internet_max_bandwidth_out,
            system_disk_category=cfg.system_disk_category,
            host_name=f"{cfg.name_prefix}-{index}",
            ssh_port=cfg.ssh_port,
            ssh_key_file=cfg.ssh_key_file,
            tags=tags,
            deletion_protection=cfg.deletion_protection,
            elastic_ip=cfg.elastic_ip,
        )
        return Server(name, args, parent)

    return build


servers: dict[str, dict[str, Any]] = {}
for index in range(cfg.instance_count):
    server = HardenedServer(
        f"server-{index}",
        HardenedServerArgs(
            machine=ecs_instance(index),
            admin_user=cfg.admin_user,
            operator_public_key=cfg.ssh_public_key,
            private_key=key_or_unknown(cfg.ssh_private_key),
            ssh_port=cfg.ssh_port,
            profile=cfg.hardening.profile,
            overrides=cfg.hardening.overrides,
            adopt_admin_user=cfg.hardening.adopt_admin,
            placement=cfg.hardening.placement,
            ssh_rules=ssh_access.rules,
        ),
    )
    servers[f"server-{index}"] = {
        "publicIp": server.public_ip,
        "privateIp": server.private_ip,
        "instanceId": server.instance_id,
        "sshCommand": server.ssh_command,
        "hardened": server.hardened,
        "hostKeyFingerprint": server.host_key_fingerprint,
        "knownHostsLine": server.known_hosts_line,
        # passed, failed, failedIds (as of the last up/refresh); the full report: docs/evidence.md
        "controls": server.controls,
    }

pulumi.export("servers", servers)
pulumi.export("securityGroupId", ssh_access.security_group_id)
pulumi.export("vswitchId", network.vswitch_id)
pulumi.export("adminUser", cfg.admin_user)
