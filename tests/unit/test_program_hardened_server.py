"""The real program under mocks: one HardenedServer per server, named as its Server was, with
exactly the aliases that keep an existing stack's resources (the engine's proof:
tests/pulumi/test_hardened_server_engine.py), and the server's exports as its outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime.mocks import MockResourceArgs

from components.sshd_hardening.control_state import control_outputs
from hardening.model.controls import load_catalogue
from hardening.ops.evidence import HostEvidence
from hardening.planning.control_eval import FAIL, PASS, ControlResult
from tests.unit.program_preview import (
    BOOT_KEY,
    HARDENING,
    ROOT,
    SERVER,
    STACK_FILES,
    ecdsa_pair,
    ed25519_public,
)
from tests.unit.test_sshd_hardening_graph import ProvidedMocks
from tools.offline_preview import PreviewResult, run_offline_preview

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pulumi_alicloud's own

# What stacks deployed before components/hardened_server.py have at the HardenedServer's URN.
FORMER_SERVER = "hardened-ecs:server:Server"


def evidence_failing(failed: str) -> HostEvidence:
    """A host on which every control of the catalogue passes but `failed`."""
    results = tuple(
        ControlResult(c, FAIL if c.id == failed else PASS, "wanted", "seen", "sshd -T")
        for c in load_catalogue().controls
    )
    return HostEvidence("192.0.2.10", 22, "2026-12-07T17:00:00Z", results=results)


FAILED_CONTROL = load_catalogue().controls[1].id


class HardenedMocks(ProvidedMocks):
    """What the hardening's provider returns after a create: its new host key, and the control
    results of a host on which one control fails."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        resource_id, state = super().new_resource(args)
        if args.typ == HARDENING:
            state["hostPublicKey"] = ed25519_public()
            state.update(control_outputs(evidence_failing(FAILED_CONTROL)))
        return resource_id, state


@pytest.fixture(scope="module", params=STACK_FILES, ids=lambda p: p.name)
def stack(request: pytest.FixtureRequest) -> tuple[Path, PreviewResult]:
    path: Path = request.param
    public, private = ecdsa_pair()
    result = run_offline_preview(
        path,
        ROOT,
        config={"sshPublicKey": public},
        secrets={"sshPrivateKey": private},
        mocks=HardenedMocks(),
    )
    assert result.ok, (result.config_problems, result.error)
    return path, result


def test_the_component_takes_over_the_former_server_and_the_boot_key_comes_from_the_top(
    stack: tuple[Path, PreviewResult],
) -> None:
    _, result = stack
    servers = result.of_type(SERVER)
    # Registered concurrently: the order is the engine's, the names are the program's.
    assert sorted(s.name for s in servers) == [f"server-{i}" for i in range(len(servers))]
    for server in servers:
        assert server.parent == result.stack_urn
        assert server.aliases == ({"type": FORMER_SERVER, "parentUrn": ""},), server.aliases
    keys = result.of_type(BOOT_KEY)
    assert {k.parent for k in keys} == {s.urn for s in servers}
    for key in keys:
        assert key.aliases == ({"noParent": True},), key.aliases
    # Everything else keeps its URN by itself, or through its component's alias.
    aliased = {r.urn for r in result.resources if r.aliases}
    assert aliased == {r.urn for r in (*servers, *keys)}


def test_each_server_export_is_its_component_outputs(stack: tuple[Path, PreviewResult]) -> None:
    _, result = stack
    exported = result.outputs["servers"].value
    assert set(exported) == {s.name for s in result.of_type(SERVER)}
    for server in result.of_type(SERVER):
        outputs = result.component_outputs[server.urn]
        assert set(outputs) == {
            *("publicIp", "privateIp", "instanceId", "sshCommand"),
            *("hardened", "hostKeyFingerprint", "knownHostsLine", "controls"),
        }
        assert outputs == exported[server.name]
        assert outputs["knownHostsLine"].startswith(outputs["publicIp"] + " ssh-ed25519 ")


def test_each_server_exports_the_control_summary_of_its_hardening(
    stack: tuple[Path, PreviewResult],
) -> None:
    _, result = stack
    total = len(load_catalogue().controls)
    for exported in result.outputs["servers"].value.values():
        assert exported["controls"] == {
            "passed": total - 1,
            "failed": 1,
            "notApplicable": 0,
            "notEnforced": 0,
            "failedIds": [FAILED_CONTROL],
            "checkedAt": "2026-12-07T17:00:00Z",
        }


def test_on_another_ssh_port_the_known_hosts_line_is_openssh_s_bracketed_form() -> None:
    # What ssh looks up for `ssh -p 2222 ops@IP`: "[IP]:2222", never "IP" (issue 21).
    public, private = ecdsa_pair()
    result = run_offline_preview(
        STACK_FILES[0],
        ROOT,
        config={"sshPublicKey": public, "sshPort": 2222},
        secrets={"sshPrivateKey": private},
        mocks=HardenedMocks(),
    )
    assert result.ok, (result.config_problems, result.error)
    for server in result.outputs["servers"].value.values():
        line = server["knownHostsLine"]
        assert line.startswith(f"[{server['publicIp']}]:2222 ssh-ed25519 "), line
        assert server["sshCommand"].endswith(f"@{server['publicIp']} -p 2222")
