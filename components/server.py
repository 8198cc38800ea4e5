"""Server: one pay-as-you-go ECS instance with a public IP, its admin user created on first boot.

The public IP is the instance's own, or with ``elastic_ip`` an EIP bound to it (see Server).
Its resources are children of the server's HardenedServer (components/hardened_server.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud


@dataclass(frozen=True)
class ServerArgs:
    """One instance.

    ``image_pinned``: ``image_id`` was chosen by the operator (``imageId``); otherwise it comes
    from a look-up of the newest image. Either way it counts at creation only (see Server).
    """

    instance_type: str
    image_id: pulumi.Input[str]
    image_pinned: bool
    vswitch_id: pulumi.Input[str]
    security_group_id: pulumi.Input[str]
    # None: no ECS key pair (an ed25519 operator key, which ImportKeyPair does not take).
    key_pair_name: pulumi.Input[str] | None
    # The cloud-config (a secret: it carries the boot host key, components/cloudinit.py).
    user_data: pulumi.Input[str]
    admin_user: str
    internet_max_bandwidth_out: int
    system_disk_category: str
    host_name: str
    ssh_port: int = 22
    # Where the operator keeps the private key; only printed in ssh_command.
    ssh_key_file: str = "~/.ssh/id_rsa"
    tags: Mapping[str, str] = field(default_factory=dict)
    # ECS deletion protection: the instance cannot be released until this is turned off.
    deletion_protection: bool = False
    # An EIP (internet_max_bandwidth_out Mbit/s) as the public address instead of the
    # instance's own public IP.
    elastic_ip: bool = False


def _when_bound(
    address: pulumi.Output[str], association: alicloud.ecs.EipAssociation
) -> pulumi.Output[str]:
    """The EIP's address, as an output that also depends on the association that binds it."""

    def first(values: list[str]) -> str:
        return values[0]

    return pulumi.Output.all(address, association.id).apply(first)


class Server:
    """Outputs: ``instance_id``, ``public_ip``, ``private_ip``, ``ssh_command``; ``instance``.

    With ``elastic_ip``, also ``eip`` and ``eip_association`` (otherwise None), and
    ``public_ip`` is the EIP's address, known only once the association binds it.

    Not a component of its own: its resources are children of ``parent``, the HardenedServer,
    which took over the URN this component had before (so that no stack gains a resource).
    """

    instance: alicloud.ecs.Instance
    eip: alicloud.ecs.EipAddress | None
    eip_association: alicloud.ecs.EipAssociation | None
    instance_id: pulumi.Output[str]
    public_ip: pulumi.Output[str]
    private_ip: pulumi.Output[str]
    ssh_command: pulumi.Output[str]

    def __init__(self, name: str, args: ServerArgs, parent: pulumi.Resource) -> None:
        # These count at creation only (the instance's inputs after that are the state's):
        # - image_id: pulumi-alicloud 4.0 applies a new image_id by replacing the system disk
        #   in place (features.ecsInstance.replaceOnImageUpdate is off by default): same
        #   instance, same IP, so the SshdHardening is neither replaced nor updated and the
        #   server comes back with the image's default sshd while the state says hardened. A
        #   looked-up id changes with every Alibaba image release, a pinned one when the
        #   operator edits imageId; either way a rebuild is deliberate:
        #   `pulumi up --replace <instance urn>` (a new server, hardened from first contact).
        # - user_data: cloud-init reads it on the first boot only; a change would just reboot.
        # - key_name: a new sshPublicKey replaces the key pair; applying the new name would
        #   reboot every running instance (AttachKeyPair) and only change root's key, whose
        #   SSH login the hardening has closed; the admin user's key comes from user data,
        #   which never runs again. Rotation is manual (SshdHardening.check says how); new
        #   instances get the new pair.
        ignored = ["image_id", "user_data", "key_name"]
        # With an EIP the instance gets no public IP of its own (bandwidth 0): Alibaba refuses
        # to bind an EIP to an instance that has one (EIP_CAN_NOT_ASSOCIATE_WITH_PUBLIC_IP), so
        # the EIP is its only public address, inbound and outbound, and carries the bandwidth.
        own_bandwidth = 0 if args.elastic_ip else args.internet_max_bandwidth_out
        self.instance = alicloud.ecs.Instance(
            f"{name}-instance",
            instance_name=args.host_name,
            host_name=args.host_name,
            description="hardened-ecs: hardened SSH server",
            instance_type=args.instance_type,
            image_id=args.image_id,
            vswitch_id=args.vswitch_id,
            security_groups=[args.security_group_id],
            key_name=args.key_pair_name,
            user_data=args.user_data,
            # Billing is explicit: the provider's defaults for these are deprecated.
            instance_charge_type="PostPaid",
            internet_charge_type="PayByTraffic",
            internet_max_bandwidth_out=own_bandwidth,
            system_disk_category=args.system_disk_category,
            deletion_protection=args.deletion_protection,
            # stopped_mode is left alone: the provider reads "Not-applicable" back for a running
            # instance, so setting it would show a change on every preview. An economical stop
            # releases the instance's own public IP (see README "Known limits": elasticIp).
            tags=dict(args.tags),
            volume_tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=parent, ignore_changes=ignored),
        )
        self.instance_id = self.instance.id
        self.eip = None
        self.eip_association = None
        if args.elastic_ip:
            self.eip = alicloud.ecs.EipAddress(
                f"{name}-eip",
                address_name=args.host_name,
                description=f"hardened-ecs: public address of {args.host_name}",
                # Billed like the instance: pay-as-you-go, pay by traffic (explicit, as there).
                payment_type="PayAsYouGo",
                internet_charge_type="PayByTraffic",
                bandwidth=str(args.internet_max_bandwidth_out),
                # The address outlives its servers; with deletionProtection it cannot be
                # released by accident either (turn it off first, like the instances').
                deletion_protection=args.deletion_protection,
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=parent),
            )
            self.eip_association = alicloud.ecs.EipAssociation(
                f"{name}-eip-association",
                allocation_id=self.eip.id,
                instance_id=self.instance.id,
                instance_type="EcsInstance",
                # An EIP is bound to one instance at a time: a new server's association can
                # only be made once the old one is gone.
                opts=pulumi.ResourceOptions(parent=parent, delete_before_replace=True),
            )
            # The address routes to the server only once it is bound: whatever uses it (the
            # sshd hardening, the ssh command) waits for the association.
            self.public_ip = _when_bound(self.eip.ip_address, self.eip_association)
        else:
            self.public_ip = self.instance.public_ip
        self.private_ip = self.instance.private_ip
        # As an operator types it: -p only for another port than ssh's own default.
        port = "" if args.ssh_port == 22 else f" -p {args.ssh_port}"
        self.ssh_command = pulumi.Output.concat(
            "ssh -i ",
            args.ssh_key_file,
            " -o IdentitiesOnly=yes ",
            args.admin_user,
            "@",
            self.public_ip,
            port,
        )
