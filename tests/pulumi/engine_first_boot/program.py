"""One server's boot host key, user data and (once `host` is set) hardening."""

from __future__ import annotations

import pulumi

from components.cloudinit import admin_user_data
from components.host_key import BootHostKey
from components.sshd_hardening import SshdHardening, SshdHardeningArgs, key_or_unknown

config = pulumi.Config()
admin = config.get("adminUser") or "ops"
public_key = config.require("publicKey")
host = config.get("host")
# The stack's sshPort (tests/pulumi/test_port_move_engine.py moves it); the host boots on 22.
ssh_port = config.get_int("sshPort") or 22

boot_key = BootHostKey("server-0-boot-host-key")


def render(keys: list[str]) -> str:
    return admin_user_data(admin, public_key, keys[0], keys[1])


document: pulumi.Output[str] = pulumi.Output.all(boot_key.private_key, boot_key.public_key).apply(
    render
)
user_data: pulumi.Output[str] = pulumi.Output.secret(document)
pulumi.export("userData", user_data)
pulumi.export("bootFingerprint", boot_key.fingerprint)

if host:
    sshd = SshdHardening(
        "server-0-sshd",
        SshdHardeningArgs(
            host=host,
            port=ssh_port,
            private_key=key_or_unknown(config.get_secret("privateKey")),
            admin_user=admin,
            bootstrap_user=admin,
            expected_host_key_fingerprint=boot_key.fingerprint,
            rotate_host_key=True,
            instance_id="i-testhost",
            manage_port=True,  # as HardenedServer: the stack's sshPort moves it
        ),
    )
    pulumi.export("hostKeyFingerprint", sshd.host_key_fingerprint)
    pulumi.export("hostPublicKey", sshd.host_public_key)
    pulumi.export("hardened", sshd.compliant)
