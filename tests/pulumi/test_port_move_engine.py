"""The SshdHardening moves sshd's port under the real Pulumi engine (issue 21): a server hardened
on 22 (a real first boot, tests/helpers/first_boot_stack.py), then the stack's port 22 -> 2222
-> 2200 -> 22. Each change is an in-place update of the same resource (not a replace); after it
sshd listens on the new port only, the state records it, `preview --expect-no-changes` is clean
and `preview --refresh` checks the server there. The order of the security-group rules around
such an update: tests/pulumi/test_port_move_order.py.

Needs the engine's move (`Port` in the request, branch i21-engine).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ClientKeys
from tests.helpers.first_boot_stack import first_boot
from tests.testhosts.machine import SystemdHost
from tools.engine_stack import EngineStack

pytestmark = [pytest.mark.host, pytest.mark.systemd]

PROJECT = Path(__file__).resolve().parent / "engine_first_boot"
HARDENING_TYPE = "pulumi-python:dynamic/hardening:SshdHardening"


@dataclass
class World:
    stack: EngineStack
    host: SystemdHost


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, client_keys: ClientKeys) -> Iterator[World]:
    with first_boot(tmp_path_factory.mktemp("port-move"), PROJECT, client_keys.rsa) as booted:
        yield World(booted.stack, booted.host)


def _hardening(stack: EngineStack) -> dict[str, Any]:
    (found,) = stack.resources(HARDENING_TYPE)
    return found


def _listening(host: SystemdHost) -> set[int]:
    out = host.run("ss -Htln", check=True).stdout
    return {int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines() if line.split()}


@pytest.mark.parametrize("port", [2222, 2200, 22])
def test_a_new_port_is_an_in_place_update_that_moves_sshd(world: World, port: int) -> None:
    before = _hardening(world.stack)
    world.stack.set_config("sshPort", str(port))
    planned = json.loads(world.stack.run("preview", "--json").stdout).get("steps", [])
    ops = {s["urn"]: s["op"] for s in planned}
    assert ops[before["urn"]] == "update", ops  # not a replace: the same server moves
    world.stack.run("up", "--yes")
    after = _hardening(world.stack)
    assert after["id"] == before["id"]
    assert int(after["outputs"]["port"]) == port
    assert after["outputs"]["compliant"] is True
    assert after["outputs"]["hostKeyFingerprint"] == before["outputs"]["hostKeyFingerprint"]
    assert _listening(world.host) == {port}, world.host.run("ss -tlnp").stdout
    effective = world.host.run("sshd -T", check=True).stdout.splitlines()
    assert [line for line in effective if line.startswith("port ")] == [f"port {port}"]
    # Nothing left to do, and a refresh (connecting on the new port) finds no drift.
    world.stack.run("preview", "--expect-no-changes")
    world.stack.run("preview", "--refresh", "--expect-no-changes")
