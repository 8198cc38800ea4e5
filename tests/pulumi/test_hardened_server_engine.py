"""Existing stacks keep their resources when the program moves to HardenedServer: under the real
Pulumi engine, a state written by __main__.py's flat layout (boot key and Server at the top of the
stack, the hardening under the Server; tests/pulumi/engine_hardened_server) against a booted
cloud-init test host, then the same stack previewed and updated with components/hardened_server.py.

With its aliases nothing changes; with the aliases stripped (a stack transformation in the test
program, nothing else different) the same preview deletes and re-creates every resource: the
aliases are what keeps them.
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
from tools.engine_stack import EngineStack, Step

pytestmark = [pytest.mark.host, pytest.mark.systemd]

PROJECT = Path(__file__).resolve().parent / "engine_hardened_server"
STACK_TYPE = "pulumi:pulumi:Stack"
HARDENED_SERVER = "hardened-ecs:hardened_server:HardenedServer"
SERVER = "hardened-ecs:server:Server"  # the component before HardenedServer
KEY_TYPE = "pulumi-python:dynamic/hardening:BootHostKey"
HARDENING_TYPE = "pulumi-python:dynamic/hardening:SshdHardening"
INSTANCE_TYPE = "pulumi-python:dynamic/test:HostRecord"  # the test host, as the instance


@dataclass
class World:
    stack: EngineStack
    host: SystemdHost
    flat: dict[str, dict[str, Any]]  # type -> the resource as the flat layout left it
    fingerprint: str  # the rotated host key the flat `up` recorded


def by_type(stack: EngineStack) -> dict[str, dict[str, Any]]:
    """The state's resources, secrets in clear (re-encrypting them changes their ciphertext)."""
    state = json.loads(stack.run("stack", "export", "--show-secrets").stdout)
    found: dict[str, dict[str, Any]] = {}
    for res in state["deployment"]["resources"]:
        assert res["type"] not in found, res["type"]  # one server: one of each
        found[res["type"]] = res
    return found


def ops(step: Step) -> dict[str, str]:
    """urn -> what `pulumi preview --json` plans for it."""
    return {s["urn"]: s["op"] for s in json.loads(step.stdout).get("steps", [])}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, client_keys: ClientKeys) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("hardened-server")
    with first_boot(workdir, PROJECT, client_keys.rsa) as booted:
        fingerprint = booted.stack.outputs()["hostKeyFingerprint"]
        yield World(booted.stack, booted.host, by_type(booted.stack), fingerprint)


def test_the_flat_state_is_the_layout_before_the_component(world: World) -> None:
    flat = world.flat
    stack_urn = flat[STACK_TYPE]["urn"]
    assert HARDENED_SERVER not in flat
    assert flat[KEY_TYPE]["parent"] == stack_urn
    assert flat[SERVER]["parent"] == stack_urn
    assert flat[INSTANCE_TYPE]["parent"] == flat[SERVER]["urn"]
    assert flat[HARDENING_TYPE]["parent"] == flat[SERVER]["urn"]
    assert world.stack.outputs()["hardened"] is True
    assert world.fingerprint != world.stack.outputs()["bootFingerprint"]


def test_without_the_aliases_the_component_would_delete_and_recreate_everything(
    world: World,
) -> None:
    world.stack.set_config("layout", "component")
    world.stack.set_config("aliases", "false")
    try:
        planned = ops(world.stack.run("preview", "--json"))
    finally:
        world.stack.run("config", "rm", "aliases")
    for type_ in (KEY_TYPE, SERVER, INSTANCE_TYPE, HARDENING_TYPE):
        old = world.flat[type_]["urn"]
        assert planned.get(old) == "delete", (type_, planned)
    for type_ in (KEY_TYPE, HARDENED_SERVER, INSTANCE_TYPE, HARDENING_TYPE):
        (new,) = [u for u in planned if u.split("::")[2].endswith(type_)
                  and planned[u] != "delete"]  # fmt: skip
        assert planned[new] == "create", (type_, planned)


def test_with_the_aliases_nothing_is_replaced_or_deleted(world: World) -> None:
    world.stack.set_config("layout", "component")  # set already, unless alone on a worker
    world.stack.run("preview", "--expect-no-changes")
    planned = ops(world.stack.run("preview", "--json"))
    assert set(planned.values()) == {"same"}, planned
    world.stack.run("up", "--yes", "--expect-no-changes")
    moved = by_type(world.stack)
    assert SERVER not in moved  # the HardenedServer is that resource now
    component = moved[HARDENED_SERVER]["urn"]
    assert moved[HARDENED_SERVER]["parent"] == moved[STACK_TYPE]["urn"]
    for type_ in (KEY_TYPE, INSTANCE_TYPE, HARDENING_TYPE):
        assert moved[type_]["parent"] == component, type_
    # The same resources, only under their new parents: ids and outputs as the flat `up` left them.
    for type_ in (KEY_TYPE, INSTANCE_TYPE, HARDENING_TYPE):
        assert moved[type_]["id"] == world.flat[type_]["id"], type_
        assert moved[type_]["outputs"] == world.flat[type_]["outputs"], type_
    assert world.stack.outputs()["hostKeyFingerprint"] == world.fingerprint


def test_the_moved_hardening_still_reads_its_server(world: World) -> None:
    # The provider the state recorded, at the new URN, checks the host over SSH: no drift.
    world.stack.run("preview", "--refresh", "--expect-no-changes")
    assert world.stack.outputs()["hardened"] is True
