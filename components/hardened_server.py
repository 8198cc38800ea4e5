"""HardenedServer: one server, closed from its first boot and hardened, as one component.

It owns, as its children: the boot host key (components/host_key.py), the instance that boots
with it (components/server.py: the ECS instance and, with ``elasticIp``, its EIP), and the sshd
hardening pinned to it (components/sshd_hardening/). README "Boot sequence" tells the story.

Stacks deployed before this component had a ``hardened-ecs:server:Server`` component of the
same name at the top of the stack, holding the instance, EIP and hardening, and the boot key
beside it. This component takes over that URN (an alias of the old type), so its children keep
theirs through it, and the boot key is aliased from the top of the stack: no resource of an
existing stack is created, replaced or deleted (tests/pulumi/test_hardened_server_engine.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi

from components.cloudinit import admin_user_data
from components.host_key import BootHostKey
from components.sshd_hardening import SshdHardening, SshdHardeningArgs
from hardening.change.rekey import known_hosts_line
from hardening.model.profiles import DEFAULT_PLACEMENT


class Machine(Protocol):
    """What the component needs of the instance it hardens (components/server.py's Server)."""

    @property
    def instance(self) -> pulumi.Resource: ...
    @property
    def eip(self) -> pulumi.Resource | None: ...
    @property
    def instance_id(self) -> pulumi.Output[str]: ...
    @property
    def public_ip(self) -> pulumi.Output[str]: ...
    @property
    def private_ip(self) -> pulumi.Output[str]: ...
    @property
    def ssh_command(self) -> pulumi.Output[str]: ...


# Builds the instance: (resource name, its user data (a secret), the parent of its resources).
MachineFactory = Callable[[str, pulumi.Output[str], pulumi.Resource], Machine]

TYPE = "hardened-ecs:hardened_server:HardenedServer"
# What stacks deployed before this component have at its URN (the Server component).
FORMER_TYPE = "hardened-ecs:server:Server"


@dataclass(frozen=True)
class HardenedServerArgs:
    """One server.

    ``machine``: makes the instance from the user data this component renders (it carries the
    boot host key). ``operator_public_key``: the admin user's key in that user data.
    ``private_key``: its private half, for the hardening (secret, or unknown in a preview).
    ``ssh_rules``: what lets SSH in; the hardening waits for them.
    """

    machine: MachineFactory
    admin_user: str
    operator_public_key: str
    private_key: pulumi.Input[str]
    profile: str
    ssh_port: int
    overrides: Mapping[str, str] = field(default_factory=dict)
    adopt_admin_user: bool = False
    placement: str = DEFAULT_PLACEMENT
    ssh_rules: Sequence[pulumi.Resource] = ()


class HardenedServer(pulumi.ComponentResource):
    """Outputs: ``public_ip``, ``private_ip``, ``instance_id``, ``ssh_command``, ``hardened``,
    ``host_key_fingerprint``, ``known_hosts_line``, ``controls`` (the control summary: passed,
    failed, failedIds, ...; components/sshd_hardening/control_state.py); ``boot_key``,
    ``server`` (the instance, whose resources are this component's children) and ``sshd``.
    """

    boot_key: BootHostKey
    server: Machine
    sshd: SshdHardening
    public_ip: pulumi.Output[str]
    private_ip: pulumi.Output[str]
    instance_id: pulumi.Output[str]
    ssh_command: pulumi.Output[str]
    hardened: pulumi.Output[bool]
    host_key_fingerprint: pulumi.Output[str]
    known_hosts_line: pulumi.Output[str | None]
    controls: pulumi.Output[dict[str, Any] | None]

    def __init__(
        self, name: str, args: HardenedServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        former = pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=FORMER_TYPE)])
        super().__init__(TYPE, name, None, pulumi.ResourceOptions.merge(opts, former))
        # It was at the top of the stack, beside the former component.
        top = pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)
        self.boot_key = BootHostKey(
            f"{name}-boot-host-key", pulumi.ResourceOptions(parent=self, aliases=[top])
        )
        self.server = args.machine(name, self._user_data(args), self)
        server = self.server
        # Post-deploy: harden the server's sshd over SSH once its public IP exists (with an EIP:
        # once it is bound, which server.public_ip carries), through the security-group rules
        # that let us in (components/sshd_hardening/, docs/pulumi-flow.md). A replaced instance
        # gets a new public IP, hence a new host, hence a new hardening from first contact; an
        # EIP keeps the address, so there the hardening is replaced together with its instance.
        self.sshd = SshdHardening(
            f"{name}-sshd",
            SshdHardeningArgs(
                label=name,
                host=server.public_ip,
                port=args.ssh_port,
                private_key=args.private_key,
                admin_user=args.admin_user,
                profile=args.profile,
                overrides=args.overrides,
                placement=args.placement,
                adopt_admin_user=args.adopt_admin_user,
                # Closed from the first boot: in as the admin user, pinned to the boot key,
                # which is replaced by a fresh one right after the first apply.
                bootstrap_user=args.admin_user,
                expected_host_key_fingerprint=self.boot_key.fingerprint,
                rotate_host_key=True,
                instance_id=server.instance_id,
                # sshPort: the stack moves sshd in place when it changes.
                manage_port=True,
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[server.instance, *args.ssh_rules],
                replace_with=[server.instance] if server.eip is not None else None,
            ),
        )
        self.public_ip = server.public_ip
        self.private_ip = server.private_ip
        self.instance_id = server.instance_id
        self.ssh_command = server.ssh_command
        self.hardened = self.sshd.compliant
        self.host_key_fingerprint = self.sshd.host_key_fingerprint
        self.controls = self.sshd.control_summary
        port = args.ssh_port

        def line(values: list[Any]) -> str | None:
            address, public = values
            return known_hosts_line(address, port, public) if public else None

        # For `sshCommand`: append to ~/.ssh/known_hosts, and ssh checks the key from the start.
        seen = pulumi.Output.all(server.public_ip, self.sshd.host_public_key)
        self.known_hosts_line = seen.apply(line)
        self.register_outputs(
            {
                "publicIp": self.public_ip,
                "privateIp": self.private_ip,
                "instanceId": self.instance_id,
                "sshCommand": self.ssh_command,
                "hardened": self.hardened,
                "hostKeyFingerprint": self.host_key_fingerprint,
                "knownHostsLine": self.known_hosts_line,
                "controls": self.controls,
            }
        )

    def _user_data(self, args: HardenedServerArgs) -> pulumi.Output[str]:
        """The server's cloud-config; it carries the boot host key's private half: a secret."""

        def render(keys: list[str]) -> str:
            return admin_user_data(
                args.admin_user, args.operator_public_key, keys[0], keys[1], args.ssh_port
            )

        keys = pulumi.Output.all(self.boot_key.private_key, self.boot_key.public_key)
        return pulumi.Output.secret(keys.apply(render))
