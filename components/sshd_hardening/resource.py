"""SshdHardening: the sshd hardening of one server, as a resource in the Pulumi graph.

A ``pulumi.dynamic.Resource``; its provider (provider.py) calls the ``hardening`` engine over SSH.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi.dynamic as dynamic

from components.sshd_hardening.provider import SshdHardeningProvider
from components.sshd_hardening.settings import (
    DEFAULT_BOOTSTRAP_USER,
    DEFAULT_PORT,
    DEFAULT_WAIT,
    OUTPUT_NAMES,
)
from hardening.model.desired import DEFAULT_PROFILE
from hardening.model.profiles import DEFAULT_PLACEMENT


def key_or_unknown(private_key: pulumi.Output[str] | None) -> pulumi.Output[str]:
    """The key, or (a preview without ``sshPrivateKey``) a secret the engine sees as unknown.

    Unknown, not absent: the preview still shows every SshdHardening, and the input check accepts
    an unknown key the way it accepts the unknown address of a server not created yet.
    """
    if private_key is not None:
        return private_key
    return cast(pulumi.Output[str], pulumi.Output.secret(pulumi.UNKNOWN))


@dataclass(frozen=True)
class SshdHardeningArgs:
    """Inputs of one SshdHardening.

    ``host``: the instance's ``public_ip`` Output. ``private_key``: the OpenSSH/PEM private key
    text (made secret here in any case). ``admin_user``: the sudo user that keeps access once root
    is closed. ``profile``/``overrides``: the vocabulary of ``python -m hardening``.
    ``expected_host_key_fingerprint``: insist on this host key at first contact instead of
    recording whatever key the new server presents; ``rotate_host_key``: then replace it with a
    fresh one right after the first apply. ``wait``: seconds a booting server gets.
    """

    host: pulumi.Input[str]
    private_key: pulumi.Input[str]
    admin_user: pulumi.Input[str]
    port: pulumi.Input[int] = DEFAULT_PORT
    bootstrap_user: pulumi.Input[str] = DEFAULT_BOOTSTRAP_USER
    profile: pulumi.Input[str] = DEFAULT_PROFILE
    overrides: Mapping[str, str] = field(default_factory=dict)
    # dropin or block: the engine's --placement (block: where sshd_config-only scanners look).
    placement: pulumi.Input[str] = DEFAULT_PLACEMENT
    expected_host_key_fingerprint: pulumi.Input[str] | None = None
    wait: float = DEFAULT_WAIT
    # The admin account already exists on the image and is the operator's: give it our key and
    # sudo (the engine refuses an account it did not create otherwise).
    adopt_admin_user: bool = False
    rotate_host_key: bool = False
    # The ECS instance this hardens: a new address of the same instance is an update.
    instance_id: pulumi.Input[str] | None = None
    # What the progress lines of `pulumi up`/`refresh` call this server (default: the
    # resource's name): servers that share an address (or have none yet) stay apart.
    label: str | None = None
    # The resource owns sshd's port (the program's sshPort): a new `port` moves sshd there in
    # place, and every request keeps it there. Without it a new port means another sshd.
    manage_port: bool = False


class SshdHardening(dynamic.Resource, module="hardening", name="SshdHardening"):
    """The hardened sshd of one server. Type ``pulumi-python:dynamic/hardening:SshdHardening``.

    Outputs: ``host_key_fingerprint``, ``effective`` (directive -> what ``sshd -T`` shows),
    ``compliant``, ``changed`` (the last apply changed the server), ``drift`` (directives that
    are not as wanted), ``openssh`` (the server's version), ``controls`` (control id -> status)
    and ``control_summary`` (passed, failed, failedIds, ...; control_state.py): as the engine
    last read the server (``up``, ``refresh``). ``privateKey`` stays secret.
    """

    def __init__(
        self, name: str, args: SshdHardeningArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props: dict[str, Any] = {
            "host": args.host,
            "port": args.port,
            "bootstrapUser": args.bootstrap_user,
            "adminUser": args.admin_user,
            "privateKey": pulumi.Output.secret(args.private_key),
            "profile": args.profile,
            "overrides": dict(args.overrides),
            "placement": args.placement,
            "expectedHostKeyFingerprint": args.expected_host_key_fingerprint,
            "wait": args.wait,
            "adoptAdminUser": args.adopt_admin_user,
            "rotateHostKey": args.rotate_host_key,
            "instanceId": args.instance_id,
            "label": args.label or name,
            "managePort": args.manage_port,
            **dict.fromkeys(OUTPUT_NAMES),
        }
        # The engine keeps an output secret when the input of that name was; say so anyway.
        secret = pulumi.ResourceOptions(additional_secret_outputs=["privateKey"])
        super().__init__(
            SshdHardeningProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret)
        )

    def _output(self, name: str) -> pulumi.Output[Any]:
        return cast(pulumi.Output[Any], self.__dict__[name])

    @property
    def host_key_fingerprint(self) -> pulumi.Output[str]:
        return self._output("hostKeyFingerprint")

    @property
    def host_public_key(self) -> pulumi.Output[str | None]:
        """The public line of the host key after the rotation (None without one)."""
        return self._output("hostPublicKey")

    @property
    def effective(self) -> pulumi.Output[dict[str, str]]:
        return self._output("effective")

    @property
    def compliant(self) -> pulumi.Output[bool]:
        return self._output("compliant")

    @property
    def changed(self) -> pulumi.Output[bool]:
        return self._output("changed")

    @property
    def drift(self) -> pulumi.Output[list[str]]:
        return self._output("drift")

    @property
    def openssh(self) -> pulumi.Output[str]:
        return self._output("openssh")

    @property
    def controls(self) -> pulumi.Output[dict[str, str] | None]:
        return self._output("controls")

    @property
    def control_summary(self) -> pulumi.Output[dict[str, Any] | None]:
        return self._output("controlSummary")
