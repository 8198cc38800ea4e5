"""hardened-ecs: hardened SSH servers on Alibaba Cloud ECS, with one `pulumi up`.

Order of work: check the whole stack configuration (nothing is registered if it is wrong), then
network -> SSH security group and its rules -> login key pair (RSA/ECDSA only) -> per server a
boot host key, the instance (closed from its first boot, README "Boot sequence") and its
hardening, then the exports.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.cloudinit import admin_user_data
from components.config import StackConfig, load_stack_config
from components.host_key import BootHostKey
from components.images import latest_system_image
from components.login_key import LoginKey, LoginKeyArgs
from components.network import Network, NetworkArgs
from components.server import Server, ServerArgs
from components.ssh_access import SshAccess, SshAccessArgs
from components.sshd_hardening import SshdHardening, SshdHardeningArgs, key_or_unknown
from hardening.rekey import known_hosts_line

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


def _user_data(host_key: BootHostKey) -> pulumi.Output[str]:
    """The server's cloud-config; it carries the boot host key's private half: a secret."""

    def render(keys: list[str]) -> str:
        return admin_user_data(cfg.admin_user, cfg.ssh_public_key, keys[0], keys[1])

    document = pulumi.Output.all(host_key.private_key, host_key.public_key).apply(render)
    return pulumi.Output.secret(document)


def _known_hosts(values: list[Any]) -> str | None:
    address, public = values
    return known_hosts_line(address, cfg.ssh_port, public) if public else None


servers: dict[str, dict[str, Any]] = {}
for index in range(cfg.instance_count):
    name = f"server-{index}"
    boot_key = BootHostKey(f"{name}-boot-host-key")
    server = Server(
        name,
        ServerArgs(
            instance_type=cfg.instance_type,
            image_id=image_id,
            image_pinned=cfg.image_id is not None,
            vswitch_id=network.vswitch_id,
            security_group_id=ssh_access.security_group_id,
            key_pair_name=login_key.key_pair_name if login_key is not None else None,
            user_data=_user_data(boot_key),
            admin_user=cfg.admin_user,
            internet_max_bandwidth_out=cfg.internet_max_bandwidth_out,
            system_disk_category=cfg.system_disk_category,
            host_name=f"{cfg.name_prefix}-{index}",
            ssh_port=cfg.ssh_port,
            ssh_key_file=cfg.ssh_key_file,
            tags=tags,
            deletion_protection=cfg.deletion_protection,
            elastic_ip=cfg.elastic_ip,
        ),
    )
    exports: dict[str, Any] = {
        "publicIp": server.public_ip,
        "privateIp": server.private_ip,
        "instanceId": server.instance_id,
        "sshCommand": server.ssh_command,
    }
    # Post-deploy: harden the server's sshd over SSH once its public IP exists (with an EIP:
    # once it is bound, which server.public_ip carries), through the security-group rules that
    # let us in (components/sshd_hardening/, docs/pulumi-flow.md). A replaced instance gets a new
    # public IP, hence a new host, hence a new hardening from first contact; an EIP keeps the
    # address, so there the hardening is replaced together with its instance.
    sshd = SshdHardening(
        f"{name}-sshd",
        SshdHardeningArgs(
            label=name,
            host=server.public_ip,
            port=cfg.ssh_port,
            private_key=key_or_unknown(cfg.ssh_private_key),
            admin_user=cfg.admin_user,
            profile=cfg.hardening.profile,
            overrides=cfg.hardening.overrides,
            adopt_admin_user=cfg.hardening.adopt_admin,
            # Closed from the first boot: in as the admin user, pinned to the boot key, which
            # is replaced by a fresh one right after the first apply.
            bootstrap_user=cfg.admin_user,
            expected_host_key_fingerprint=boot_key.fingerprint,
            rotate_host_key=True,
            instance_id=server.instance_id,
        ),
        opts=pulumi.ResourceOptions(
            parent=server,
            depends_on=[server.instance, *ssh_access.rules],
            replace_with=[server.instance] if server.eip is not None else None,
        ),
    )
    exports["hardened"] = sshd.compliant
    exports["hostKeyFingerprint"] = sshd.host_key_fingerprint
    # For `sshCommand`: append to ~/.ssh/known_hosts, and ssh checks the key from the start.
    exports["knownHostsLine"] = pulumi.Output.all(server.public_ip, sshd.host_public_key).apply(
        _known_hosts
    )
    servers[name] = exports

pulumi.export("servers", servers)
pulumi.export("securityGroupId", ssh_access.security_group_id)
pulumi.export("vswitchId", network.vswitch_id)
pulumi.export("adminUser", cfg.admin_user)
