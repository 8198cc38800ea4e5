"""Two boot host keys and, for each, the user data __main__.py would give its server."""

from __future__ import annotations

import pulumi

from components.cloudinit import admin_user_data
from components.host_key import BootHostKey

OPERATOR_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOaWAV2YBQSYVUcaZnONL0PRKq7ZalKMjOYL9HM2rcPh op"


ADMIN = pulumi.Config().get("adminUser") or "ops"


def render(keys: list[str]) -> str:
    return admin_user_data(ADMIN, OPERATOR_KEY, keys[0], keys[1])


for name in ("server-0", "server-1"):
    key = BootHostKey(f"{name}-boot-host-key")
    document: pulumi.Output[str] = pulumi.Output.all(key.private_key, key.public_key).apply(render)
    user_data: pulumi.Output[str] = pulumi.Output.secret(document)
    pulumi.export(name, {"fingerprint": key.fingerprint, "publicKey": key.public_key})
    pulumi.export(f"{name}-userData", user_data)
