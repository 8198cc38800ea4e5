"""LoginKey: the operator's public key imported as an ECS key pair."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_alicloud as alicloud


@dataclass(frozen=True)
class LoginKeyArgs:
    """``public_key``: one validated OpenSSH line (RSA 3072+ or ECDSA: what ImportKeyPair takes)."""

    public_key: str
    resource_name_prefix: str = "hardened-ecs"
    tags: Mapping[str, str] = field(default_factory=dict)


class LoginKey(pulumi.ComponentResource):
    """Outputs: ``key_pair_name``."""

    key_pair_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: LoginKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("hardened-ecs:login_key:LoginKey", name, None, opts)
        key_pair = alicloud.ecs.EcsKeyPair(
            f"{name}-keypair",
            # A prefix, not a fixed name: a new public key replaces the pair create-before-delete,
            # which a fixed name would make collide with itself.
            key_name_prefix=f"{args.resource_name_prefix}-",
            public_key=args.public_key,
            tags=dict(args.tags),
            # Instances keep the pair they were created with (key_name is in their
            # ignore_changes), and Alibaba refuses to delete a pair still bound to an instance
            # (KeypairAlreadyAttachedInstance, retried by the provider until it times out). So
            # a replaced pair is left in Alibaba instead of failing the `pulumi up` that
            # rotates the key; `pulumi destroy` leaves it too. It holds a public key only.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        self.key_pair_name = key_pair.key_pair_name
        self.register_outputs({"keyPairName": self.key_pair_name})
