"""One SshdHardening per configured host: the project's own component under the real engine.

The resource is built exactly as __main__.py builds it for an ECS server (same args, same
``key_or_unknown`` for a preview without the key); only the host comes from the config instead
of an instance's public IP.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.sshd_hardening import SshdHardening, SshdHardeningArgs, key_or_unknown
from hardening.model.profiles import DEFAULT_PLACEMENT

config = pulumi.Config()
hosts: list[dict[str, Any]] = config.require_object("hosts")
overrides: dict[str, Any] = config.get_object("overrides") or {}
# host name -> dropin|block (the stack's `hardening.placement`); absent: the default.
placements: dict[str, Any] = config.get_object("placements") or {}

for entry in hosts:
    name = str(entry["name"])
    sshd = SshdHardening(
        f"{name}-sshd",
        SshdHardeningArgs(
            label=name,
            host=str(entry.get("address", "127.0.0.1")),
            port=int(entry["port"]),
            private_key=key_or_unknown(config.get_secret("privateKey")),
            admin_user=config.get("adminUser") or "ops",
            profile=config.get("profile") or "baseline",
            overrides={str(k): str(v) for k, v in overrides.items()},
            placement=str(placements.get(name, DEFAULT_PLACEMENT)),
        ),
    )
    pulumi.export(
        name,
        {
            "hardened": sshd.compliant,
            "hostKeyFingerprint": sshd.host_key_fingerprint,
            "drift": sshd.drift,
            "openssh": sshd.openssh,
            "effective": sshd.effective,
            "controls": sshd.control_summary,
        },
    )
