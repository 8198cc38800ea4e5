"""SshdHardening's first-boot inputs without a host: what check refuses, what diff decides."""

from __future__ import annotations

from typing import Any

from components.sshd_hardening.provider import SshdHardeningProvider
from hardening.change.rekey import known_hosts_line, new_host_key, openssh_fingerprint
from tests.unit.program_preview import ecdsa_pair, rsa_pair

FP = new_host_key().fingerprint


def inputs(**extra: Any) -> dict[str, Any]:
    props = {
        "host": "192.0.2.10",
        "adminUser": "ops",
        "bootstrapUser": "ops",
        "privateKey": ecdsa_pair()[1],
        "expectedHostKeyFingerprint": FP,
        "rotateHostKey": True,
        "instanceId": "i-abc",
    }
    props.update(extra)
    return SshdHardeningProvider().check({}, props).inputs


def failures(**extra: Any) -> dict[str, str]:
    props = {"host": "192.0.2.10", "adminUser": "ops", "privateKey": ecdsa_pair()[1], **extra}
    result = SshdHardeningProvider().check({}, props)
    return {f.property: f.reason for f in result.failures or []}


def test_rotation_needs_a_pinned_first_contact() -> None:
    assert "needs expectedHostKeyFingerprint" in failures(rotateHostKey=True)["rotateHostKey"]
    assert failures(rotateHostKey="yes")["rotateHostKey"] == "must be true or false"
    assert failures(rotateHostKey=True, expectedHostKeyFingerprint=FP) == {}


def test_a_new_address_of_the_same_instance_is_an_update_pinned_to_the_recorded_key() -> None:
    old = {**inputs(), "hostKeyFingerprint": "SHA256:" + "A" * 43, "compliant": True}
    provider = SshdHardeningProvider()
    moved = provider.diff("id", old, inputs(host="192.0.2.99"))
    assert moved.changes is True and not moved.replaces
    replaced = provider.diff("id", old, inputs(instanceId="i-new"))
    assert replaced.replaces == ["instanceId"]
    # Without an instance id (the CLI-style resource) a new address is a new server.
    legacy = {k: v for k, v in old.items() if k != "instanceId"}
    plain = dict(inputs(host="192.0.2.99"), instanceId=None)
    assert provider.diff("id", legacy, plain).replaces == ["host"]
    # Unchanged: no diff, whatever the boot key was.
    assert provider.diff("id", old, inputs()).changes is False


def test_the_known_hosts_fingerprint_is_openssh_s() -> None:
    key = new_host_key()
    assert key.fingerprint == openssh_fingerprint(key.public)
    assert key.fingerprint.startswith("SHA256:") and len(key.fingerprint) == 50


def test_the_same_instance_at_a_new_address_keeps_the_admin_and_key_rules() -> None:
    """Renaming the admin user or changing the key of a hardened server is refused even
    when its address changed: it is the same server (same instanceId)."""
    old = {**inputs(), "hostKeyFingerprint": "SHA256:" + "A" * 43}
    moved = {**inputs(host="192.0.2.99"), "adminUser": "ops2"}
    result = SshdHardeningProvider().check(old, moved)
    reasons = {f.property: f.reason for f in result.failures or []}
    assert "not supported" in reasons["adminUser"]
    rotated = {**inputs(host="192.0.2.99"), "privateKey": rsa_pair(3072, seed=1)[1]}
    result = SshdHardeningProvider().check(old, rotated)
    reasons = {f.property: f.reason for f in result.failures or []}
    assert "Rotate by hand" in reasons["privateKey"]
    # A new instance is a new server: both are fine there.
    fresh = {**moved, "instanceId": "i-new"}
    assert not SshdHardeningProvider().check(old, fresh).failures


def test_known_hosts_line_is_what_ssh_reads() -> None:
    key = new_host_key()
    kind, blob = key.public.split()[:2]
    assert known_hosts_line("192.0.2.1", 22, key.public) == f"192.0.2.1 {kind} {blob}"
    assert known_hosts_line("192.0.2.1", 2222, key.public) == f"[192.0.2.1]:2222 {kind} {blob}"
