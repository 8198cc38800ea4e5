"""BootHostKey: the ed25519 host key a new server boots with, generated once, kept as a secret.

The program knows this key before the server exists: cloud-init installs it (user data
``ssh_keys``), and the hardening step's first connection pins its fingerprint, so no step of
`pulumi up` trusts whatever key it is shown. It is only a boot key: right after the first
apply the server gets fresh host keys over that pinned channel (hardening/ops/rotation.py, the
key from hardening/change/rekey.py), so the copy in the user data (readable through the ECS API)
authenticates nothing afterwards.

A small dynamic resource rather than pulumi-tls: the key comes from ``cryptography`` (already
here as paramiko's dependency, hardening/change/rekey.py), no provider plugin to download, and
the fingerprint is computed the way OpenSSH prints it. Stateless provider, importable module
(dill pickles it by reference, like components/sshd_hardening/provider.py).
"""

from __future__ import annotations

from typing import Any, cast

import pulumi
import pulumi.dynamic as dynamic

from hardening.change.rekey import new_host_key

KEY_TYPE = "ed25519"


class BootHostKeyProvider(dynamic.ResourceProvider):
    """Generates the key on create; never changes it (no inputs, so no diff and no update)."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        key = new_host_key()
        outs = {
            "keyType": KEY_TYPE,
            "privateKey": key.private,
            "publicKey": key.public,
            "fingerprint": key.fingerprint,
        }
        return dynamic.CreateResult(id_=key.fingerprint, outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        return dynamic.DiffResult(changes=False, replaces=[])


class BootHostKey(dynamic.Resource, module="hardening", name="BootHostKey"):
    """Type ``pulumi-python:dynamic/hardening:BootHostKey``. ``private_key`` is secret."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {"keyType": KEY_TYPE, "privateKey": None, "publicKey": None, "fingerprint": None}
        secret = pulumi.ResourceOptions(additional_secret_outputs=["privateKey"])
        super().__init__(
            BootHostKeyProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret)
        )

    def _output(self, name: str) -> pulumi.Output[str]:
        return cast(pulumi.Output[str], self.__dict__[name])

    @property
    def private_key(self) -> pulumi.Output[str]:
        return self._output("privateKey")

    @property
    def public_key(self) -> pulumi.Output[str]:
        return self._output("publicKey")

    @property
    def fingerprint(self) -> pulumi.Output[str]:
        return self._output("fingerprint")
