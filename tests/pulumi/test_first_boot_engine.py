"""A first boot under the real Pulumi engine: `pulumi up` makes the boot host key and the user
data; a systemd + cloud-init test host boots from exactly that user data; the next `pulumi up`
hardens it pinned to the boot key and rotates the key. The state holds every private key only
as ciphertext, and nothing diffs afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hardening.change.rekey import openssh_fingerprint
from hardening.ssh.keys import load_private_key
from tests.conftest import ClientKeys
from tests.helpers.first_boot_stack import first_boot
from tests.helpers.firstboot_probe import SourcePool, probe_once
from tests.testhosts.client import try_login
from tests.testhosts.machine import SystemdHost
from tools.engine_stack import EngineStack

pytestmark = [pytest.mark.host, pytest.mark.systemd]

PROJECT = Path(__file__).resolve().parent / "engine_first_boot"
KEY_TYPE = "pulumi-python:dynamic/hardening:BootHostKey"
HARDENING_TYPE = "pulumi-python:dynamic/hardening:SshdHardening"
SECRET_SIG = "4dabf18193072939515e22adb298388d"


@dataclass
class World:
    stack: EngineStack
    host: SystemdHost
    pool: SourcePool
    key: Path
    boot_fingerprint: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, client_keys: ClientKeys) -> Iterator[World]:
    key = client_keys.rsa
    with first_boot(tmp_path_factory.mktemp("firstboot"), PROJECT, key) as booted:
        pool = SourcePool(booted.host.bridge)
        try:
            fingerprint = booted.outputs["bootFingerprint"]
            yield World(booted.stack, booted.host, pool, key, fingerprint)
        finally:
            pool.close()


def _one(world: World, type_: str) -> dict[str, Any]:
    (found,) = world.stack.resources(type_)
    return found


def test_up_pinned_the_boot_key_and_recorded_a_fresh_one(world: World) -> None:
    outputs = world.stack.outputs()
    new = outputs["hostKeyFingerprint"]
    assert outputs["hardened"] is True
    assert new != world.boot_fingerprint
    assert openssh_fingerprint(outputs["hostPublicKey"]) == new
    seen = probe_once(world.host.address, world.pool.take(), load_private_key(path=str(world.key)))
    assert seen.fingerprint == new
    hardening = _one(world, HARDENING_TYPE)
    assert hardening["inputs"]["expectedHostKeyFingerprint"] == world.boot_fingerprint
    assert _one(world, KEY_TYPE)["urn"] in hardening["dependencies"]
    assert try_login(world.host.address, "ops", world.key)


def test_state_holds_private_keys_only_as_ciphertext(world: World) -> None:
    for res, name in (
        (_one(world, KEY_TYPE), "privateKey"),
        (_one(world, HARDENING_TYPE), "privateKey"),
    ):
        value = res["outputs"][name]
        assert isinstance(value, dict) and value[SECRET_SIG] and value["ciphertext"], res["type"]
    for path in world.stack.state_files():
        text = path.read_bytes().decode(errors="replace")
        assert "PRIVATE KEY" not in text, path


def test_no_recurring_diff(world: World) -> None:
    world.stack.run("preview", "--expect-no-changes")
    world.stack.run("refresh", "--yes", "--expect-no-changes")
    world.stack.run("up", "--yes", "--expect-no-changes")
    assert world.stack.outputs()["hostKeyFingerprint"] != world.boot_fingerprint
