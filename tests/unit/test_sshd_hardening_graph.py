"""SshdHardening without a host, in the graph: the real program under mocks registers one per
server, fed by its instance, with our provider pickled by reference. The provider's own rules:
test_sshd_hardening_provider.py; through Pulumi's provider server against a real sshd:
tests/pulumi/test_sshd_hardening_grpc.py.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.output import Unknown
from pulumi.runtime.mocks import MockResourceArgs

from components.sshd_hardening.provider import SshdHardeningProvider
from tests.unit.program_preview import BOOT_KEY, ecdsa_pair
from tools.offline_preview import OfflineMocks, PreviewResult, run_offline_preview

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pulumi_alicloud's own


ROOT = Path(__file__).resolve().parents[2]
STACK_FILES = sorted(ROOT.glob("Pulumi.*.yaml"))
# What pulumi.dynamic.Resource registers for `class SshdHardening(Resource, module="hardening",
# name="SshdHardening")`; without module/name it would be pulumi-python:dynamic:Resource.
HARDENING = "pulumi-python:dynamic/hardening:SshdHardening"
INSTANCE = "alicloud:ecs/instance:Instance"
RULE = "alicloud:ecs/securityGroupRule:SecurityGroupRule"
SERVER = "hardened-ecs:hardened_server:HardenedServer"  # components/hardened_server.py
EIP = "alicloud:ecs/eipAddress:EipAddress"
EIP_ASSOCIATION = "alicloud:ecs/eipAssociation:EipAssociation"


def key_pair() -> tuple[str, str]:
    """(public line, private key): ECDSA, which the stack accepts and is quick to make."""
    return ecdsa_pair()


class ProvidedMocks(OfflineMocks):
    """Offline mocks, plus what the SshdHardening provider would return after a create."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        resource_id, state = super().new_resource(args)
        if args.typ == HARDENING:
            state["hostKeyFingerprint"] = f"SHA256:mock-{args.name}"
            state["compliant"] = True
        return resource_id, state


def deploy(stack_file: Path, *, preview: bool = False, **config: Any) -> PreviewResult:
    public, private = key_pair()
    result = run_offline_preview(
        stack_file,
        ROOT,
        config={"sshPublicKey": public, **config},
        secrets={} if preview else {"sshPrivateKey": private},
        unset=("sshPrivateKey",) if preview else (),
        preview=preview,
        mocks=ProvidedMocks(),
    )
    assert result.ok, (result.config_problems, result.error)
    return result


# --- Proof 1: the graph --------------------------------------------------------------------


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_every_server_gets_one_hardening_fed_by_its_instance_after_the_ssh_rules(
    stack_file: Path,
) -> None:
    result = deploy(stack_file)
    _, private = key_pair()
    instances = result.of_type(INSTANCE)
    rules = {r.urn for r in result.of_type(RULE)}
    hardenings = result.of_type(HARDENING)
    servers = result.outputs["servers"].value
    assert instances and rules
    assert len(hardenings) == len(instances) == len(servers)
    # No other dynamic resource hides one under a generic type; the only other one is each
    # server's boot host key (components/host_key.py).
    boot_keys = {r.urn: r for r in result.of_type(BOOT_KEY)}
    assert len(boot_keys) == len(instances)
    assert not [r for r in result.resources if r.type.startswith("pulumi-python:")
                and r.type not in (HARDENING, BOOT_KEY)]  # fmt: skip

    for instance in instances:
        server = result.by_urn(instance.parent or "")
        assert server.type == SERVER
        (hardening,) = [h for h in hardenings if h.parent == server.urn]
        assert hardening.name == f"{server.name}-sshd"
        # Fed by this server's publicIp: its value, and what gives it as an input dependency:
        # the instance, or with an EIP (elasticIp) the EIP and the association that binds it.
        assert hardening.inputs["host"] == servers[server.name]["publicIp"]
        assert instance.urn in hardening.dependencies
        eip_urns = {r.urn for r in result.resources
                    if r.parent == server.urn and r.type in (EIP, EIP_ASSOCIATION)}  # fmt: skip
        if eip_urns:
            assert len(eip_urns) == 2
            assert eip_urns <= hardening.dependencies - hardening.explicit_dependencies
        else:
            assert instance.urn not in hardening.explicit_dependencies  # it comes through `host`
        # Ordered after the rules that let SSH in (no input says so: depends_on does).
        assert rules <= hardening.explicit_dependencies
        # The key: an input, secret, and kept secret in the outputs.
        assert hardening.inputs["privateKey"] == private
        assert "privateKey" in hardening.secret_inputs
        assert hardening.additional_secret_outputs == ("privateKey",)
        assert hardening.inputs["adminUser"] == "ops"
        # Closed from the first boot: in as the admin user, pinned to this server's boot key
        # (the one its user data installs), then a fresh host key.
        assert hardening.inputs["bootstrapUser"] == "ops"
        (boot_key,) = [k for k in boot_keys if k in instance.dependencies]
        assert boot_key in hardening.dependencies
        assert str(hardening.inputs["expectedHostKeyFingerprint"]).startswith("SHA256:")
        assert hardening.inputs["rotateHostKey"] is True
        assert hardening.inputs["port"] == 22
        assert hardening.inputs["managePort"] is True  # sshPort moves it in place
        assert hardening.inputs["profile"] == "baseline"
        assert hardening.inputs["overrides"] == {}
        assert hardening.inputs["wait"] == 300
        # The stack says per server whether it is hardened, and which host key it has.
        assert servers[server.name]["hardened"] is True
        assert servers[server.name]["hostKeyFingerprint"] == f"SHA256:mock-{hardening.name}"
    assert not result.outputs["servers"].secret  # readable: no secret reached the export


def _rules_by_port(result: PreviewResult) -> dict[str, set[str]]:
    ports: dict[str, set[str]] = {}
    for rule in result.of_type(RULE):
        ports.setdefault(str(rule.inputs["portRange"]), set()).add(rule.urn)
    return ports


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_a_new_ssh_port_is_new_rules_that_every_hardening_waits_for(stack_file: Path) -> None:
    """The order of a port move, as far as the program decides it (issue 21).

    The rules of each port have their own names: moving 22 -> 2222 registers new rules (the
    engine creates them) and no longer registers the old ones (the engine deletes them, last:
    tests/pulumi/test_port_move_order.py). Every SshdHardening depends on the new port's rules,
    so none is asked to listen there before they exist, and on no rule of the old port.
    """
    on_22, on_2222 = deploy(stack_file), deploy(stack_file, sshPort=2222)
    rules_22, rules_2222 = _rules_by_port(on_22), _rules_by_port(on_2222)
    assert set(rules_22) == {"22/22"} and set(rules_2222) == {"2222/2222"}
    # Not one rule keeps its URN: each old rule goes, each new one is created.
    assert not rules_22["22/22"] & rules_2222["2222/2222"]
    assert len(rules_22["22/22"]) == len(rules_2222["2222/2222"])
    # Port 22's rules keep the names they had before ports could change: no stack loses one.
    assert all(urn.endswith("::ssh-from-" + urn.split("::ssh-from-")[-1])
               and "port-" not in urn.split("::")[-1] for urn in rules_22["22/22"])  # fmt: skip
    assert all(urn.split("::")[-1].startswith("ssh-port-2222-from-")
               for urn in rules_2222["2222/2222"])  # fmt: skip
    servers = on_2222.outputs["servers"].value
    for hardening in on_2222.of_type(HARDENING):
        assert hardening.inputs["port"] == 2222
        assert rules_2222["2222/2222"] <= hardening.explicit_dependencies
        assert not rules_22["22/22"] & hardening.dependencies
        server = on_2222.by_urn(hardening.parent or "")
        assert servers[server.name]["sshCommand"].endswith(
            f"ops@{servers[server.name]['publicIp']} -p 2222"
        )
    # The same SshdHardening (same URN): a port change is its update, not a new resource.
    assert {h.urn for h in on_22.of_type(HARDENING)} == {h.urn for h in on_2222.of_type(HARDENING)}


def test_the_registered_provider_is_ours_pickled_by_reference() -> None:
    (hardening,) = deploy(ROOT / "Pulumi.dev.yaml").of_type(HARDENING)
    registered = hardening.inputs["__provider"]
    # Byte for byte what the gRPC test hands the provider server.
    assert registered == serialize_provider(SshdHardeningProvider())
    pickled = base64.b64decode(registered)
    # By reference: module and class name, no code, no state (so no SSH client) inside.
    assert b"components.sshd_hardening.provider" in pickled and b"SshdHardeningProvider" in pickled
    assert len(pickled) < 200
    # A fresh interpreter in the project directory (like the provider process) loads it.
    probe = (
        "import base64, sys, threading, dill\n"
        f"p = dill.loads(base64.b64decode({registered!r}))\n"
        "assert type(p).__module__ == 'components.sshd_hardening.provider', type(p)\n"
        "assert vars(p) == {}, vars(p)\n"
        "assert threading.active_count() == 1\n"
        "print(type(p).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SshdHardeningProvider"


# What the program registered as `__provider` before the provider left components/hardening.py.
PROVIDER_BEFORE_THE_MOVE = (
    "gASVNQAAAAAAAACMFGNvbXBvbmVudHMuaGFyZGVuaW5nlIwVU3NoZEhhcmRlbmluZ1Byb3ZpZGVylJOUKYGULg=="
)


def test_a_state_recorded_before_the_provider_moved_still_loads() -> None:
    # `pulumi refresh` and `destroy` unpickle the provider the state recorded (not the program's).
    probe = (
        "import base64, dill\n"
        f"p = dill.loads(base64.b64decode({PROVIDER_BEFORE_THE_MOVE!r}))\n"
        "print(type(p).__module__, type(p).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "components.sshd_hardening.provider SshdHardeningProvider"
    # components/hardening.py is what keeps it loadable: without it the same state fails.
    blocked = "import sys\nsys.modules['components.hardening'] = None\n" + probe
    done = subprocess.run(
        [sys.executable, "-c", blocked], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "ModuleNotFoundError: import of components.hardening halted" in done.stderr


def test_a_preview_without_the_private_key_still_shows_every_hardening() -> None:
    result = deploy(ROOT / "Pulumi.prod.yaml", preview=True)
    hardenings = result.of_type(HARDENING)
    assert len(hardenings) == len(result.of_type(INSTANCE)) == 2
    for hardening in hardenings:
        # Unknown to the engine (what check accepts in a preview), and still secret.
        assert isinstance(hardening.inputs["privateKey"], Unknown)
        assert "privateKey" in hardening.secret_inputs


def test_profile_and_overrides_come_from_the_stack_config() -> None:
    result = deploy(
        ROOT / "Pulumi.dev.yaml",
        hardening={"profile": "minimal", "set": {"MaxAuthTries": 3, "X11Forwarding": False}},
        adminUser="deployer",
    )
    (hardening,) = result.of_type(HARDENING)
    assert hardening.inputs["profile"] == "minimal"
    assert hardening.inputs["overrides"] == {"MaxAuthTries": "3", "X11Forwarding": "no"}
    assert hardening.inputs["adminUser"] == "deployer"
