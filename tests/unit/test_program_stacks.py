"""The real __main__.py under Pulumi's mocks, once per committed stack file: the resource graph
(program_preview.py runs it with a generated key pair).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import shlex
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

from hardening.change.rekey import openssh_fingerprint
from hardening.host.paths import socket_dropin
from hardening.planning.socket_port import dropin_text as socket_dropin_text
from tests.unit.program_preview import (
    BOOT_KEY,
    EIP,
    EIP_ASSOCIATION,
    GET_IMAGES,
    GROUP,
    HARDENING,
    INSTANCE,
    KEY_PAIR,
    RULE,
    SERVER,
    STACK_FILES,
    SWITCH,
    VPC,
    all_text,
    component_of,
    deploy,
    flag,
    one,
    rsa_pair,
    stack_config,
)
from tools.offline_preview import PreviewResult

# pulumi_alicloud warns about its own deprecated resources when it is imported.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_there_are_committed_stacks() -> None:
    assert {p.name for p in STACK_FILES} >= {"Pulumi.dev.yaml", "Pulumi.prod.yaml"}


@pytest.fixture(params=STACK_FILES, ids=lambda p: p.name)
def stack(request: pytest.FixtureRequest) -> tuple[Path, PreviewResult]:
    path: Path = request.param
    result = deploy(path)
    assert result.ok, (result.config_problems, result.error)
    return path, result


def test_network_then_group_then_rules_for_exactly_the_configured_cidrs(
    stack: tuple[Path, PreviewResult],
) -> None:
    path, result = stack
    config = stack_config(path)
    vpc, switch, group = one(result, VPC), one(result, SWITCH), one(result, GROUP)

    assert vpc.inputs["cidrBlock"] == config.get("hardened-ecs:vpcCidr", "172.16.0.0/16")
    assert switch.inputs["vpcId"] == vpc.id
    assert vpc.urn in switch.dependencies
    assert group.inputs["vpcId"] == vpc.id
    assert group.inputs["innerAccessPolicy"] == "Drop"

    rules = result.of_type(RULE)
    sources = sorted(r.inputs.get("cidrIp") or r.inputs["ipv6CidrIp"] for r in rules)
    assert sources == sorted(config["hardened-ecs:allowedSshCidrs"])
    for rule in rules:
        assert rule.inputs["securityGroupId"] == group.id
        assert group.urn in rule.dependencies
        assert rule.inputs["type"] == "ingress"
        assert rule.inputs["ipProtocol"] == "tcp"
        assert rule.inputs["portRange"] == "22/22"
        assert rule.inputs["policy"] == "accept"
        assert rule.inputs["nicType"] == "intranet"
        assert "SSH" in rule.inputs["description"]
    # Nothing else is let in: the only rules in the graph are these ingress rules.
    assert all(r.inputs["type"] == "ingress" for r in rules)


def test_instances_use_the_group_vswitch_key_and_explicit_billing(
    stack: tuple[Path, PreviewResult],
) -> None:
    path, result = stack
    config = stack_config(path)
    switch, group, key_pair = one(result, SWITCH), one(result, GROUP), one(result, KEY_PAIR)
    public, _ = rsa_pair()
    assert key_pair.inputs["publicKey"] == public

    instances = result.of_type(INSTANCE)
    assert len(instances) == int(config["hardened-ecs:instanceCount"])
    image_call = [i for i in result.invokes if i.token == GET_IMAGES]
    assert len(image_call) == 1
    assert image_call[0].args["owners"] == "system"
    assert image_call[0].args["mostRecent"] is True
    for instance in instances:
        inputs = instance.inputs
        assert inputs["securityGroups"] == [group.id]
        assert inputs["vswitchId"] == switch.id
        assert inputs["keyName"] == key_pair.id
        assert {group.urn, switch.urn, key_pair.urn} <= instance.dependencies
        # With an EIP the bandwidth is the EIP's: the instance has no public IP of its own.
        bandwidth = config["hardened-ecs:internetMaxBandwidthOut"]
        assert bandwidth > 0
        assert inputs["internetMaxBandwidthOut"] == (0 if flag(path, "elasticIp") else bandwidth)
        assert inputs["deletionProtection"] is flag(path, "deletionProtection")
        assert inputs["instanceChargeType"] == "PostPaid"
        assert inputs["internetChargeType"] == "PayByTraffic"
        assert inputs["instanceType"] == config["hardened-ecs:instanceType"]
        assert inputs["systemDiskCategory"] == "cloud_essd"
        # The looked-up image, the first-boot user data and the key pair count at creation only.
        assert inputs["imageId"].startswith("m-mock")
        assert set(instance.ignore_changes) == {"imageId", "userData", "keyName"}
        # Not set: read back as "Not-applicable" while running, it would diff on every preview.
        assert "stoppedMode" not in inputs
    assert len({i.inputs["hostName"] for i in instances}) == len(instances)


def test_user_data_creates_the_admin_user_with_key_and_passwordless_sudo(
    stack: tuple[Path, PreviewResult],
) -> None:
    _, result = stack
    public, _ = rsa_pair()
    for instance in result.of_type(INSTANCE):
        text = instance.inputs["userData"]
        assert text.startswith("#cloud-config\n")
        document = yaml.safe_load(text)
        (user,) = document["users"]  # no distro default user
        assert user["name"] == "ops"
        assert user["ssh_authorized_keys"] == [public]
        assert user["sudo"] == "ALL=(ALL) NOPASSWD:ALL"
        assert user["lock_passwd"] is True
        assert document["ssh_pwauth"] is False
        # The account is recorded (root-only, by uid) as the one hardened-ecs made, so the
        # hardening step may give it sudo without adopting a stranger's account.
        (record,) = document["runcmd"]
        assert record[:2] == ["sh", "-c"] and record[-1] == "ops"
        assert "/var/lib/hardened-ecs/admin-users/$1" in record[2] and "id -u" in record[2]


def test_user_data_closes_root_and_passwords_at_boot_and_carries_the_boot_host_key(
    stack: tuple[Path, PreviewResult],
) -> None:
    """Each server boots closed with its own boot host key, which its hardening pins; the user
    data holding the key's private half is a secret (only ciphertext in the state)."""
    _, result = stack
    keys = {k.urn: k for k in result.of_type(BOOT_KEY)}
    instances, hardenings = result.of_type(INSTANCE), result.of_type(HARDENING)
    assert len(keys) == len(instances) == len(hardenings)
    used = set()
    for instance in instances:
        (sshd,) = [h for h in hardenings if h.parent == instance.parent]  # same Server
        assert "userData" in instance.secret_inputs
        document = yaml.safe_load(instance.inputs["userData"])
        (dropin,) = document["write_files"]
        assert dropin["path"] == "/etc/ssh/sshd_config.d/01-hardened-ecs-boot.conf"
        lines = set(dropin["content"].splitlines())
        assert {"PermitRootLogin no", "PasswordAuthentication no"} <= lines
        assert "KbdInteractiveAuthentication no" in lines
        assert document["disable_root"] is True and document["ssh_genkeytypes"] == ["ed25519"]
        (key,) = [k for k in keys.values() if k.urn in instance.dependencies]
        used.add(key.urn)
        # The hardening pins exactly the key the user data installs, and that is a real pair.
        host_keys = document["ssh_keys"]
        pinned = sshd.inputs["expectedHostKeyFingerprint"]
        assert pinned == openssh_fingerprint(host_keys["ed25519_public"])
        private = serialization.load_ssh_private_key(
            host_keys["ed25519_private"].encode(), password=None
        )
        derived = private.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        assert derived.decode() == host_keys["ed25519_public"]
        # Its private half is in no input that is not a secret, and in no output.
        body = "".join(host_keys["ed25519_private"].splitlines()[1:-1])[40:]
        clear = [
            {k: v for k, v in r.inputs.items() if k not in r.secret_inputs}
            for r in result.resources
        ]
        outputs = {k: v.value for k, v in result.outputs.items()}
        assert body not in json.dumps([clear, outputs], default=str).replace("\\n", "")
        assert sshd.inputs["bootstrapUser"] == "ops"
        assert sshd.inputs["rotateHostKey"] is True
        assert key.urn in sshd.dependencies
        assert "privateKey" in key.additional_secret_outputs
    assert used == set(keys)


def test_children_belong_to_their_components(stack: tuple[Path, PreviewResult]) -> None:
    path, result = stack
    expected = {
        VPC: "hardened-ecs:network:Network",
        SWITCH: "hardened-ecs:network:Network",
        GROUP: "hardened-ecs:ssh_access:SshAccess",
        RULE: "hardened-ecs:ssh_access:SshAccess",
        KEY_PAIR: "hardened-ecs:login_key:LoginKey",
        BOOT_KEY: SERVER,
        INSTANCE: SERVER,
        HARDENING: SERVER,
        EIP: SERVER,
        EIP_ASSOCIATION: SERVER,
    }
    custom = [r for r in result.resources if r.custom]
    eip_types = set() if flag(path, "elasticIp") else {EIP, EIP_ASSOCIATION}
    assert {r.type for r in custom} == set(expected) - eip_types
    for resource in custom:
        assert component_of(result, resource) == expected[resource.type], resource.name
    for component in (r for r in result.resources if not r.custom):
        assert component_of(result, component) == "pulumi:pulumi:Stack"


def test_every_resource_is_tagged_with_the_stack_tags(stack: tuple[Path, PreviewResult]) -> None:
    path, result = stack
    wanted = {"project": "hardened-ecs", "stack": path.name.split(".")[1]}
    wanted.update(stack_config(path).get("hardened-ecs:tags", {}))
    # Rules, EIP associations and the sshd hardening (no cloud resource) take no tags.
    untagged = (RULE, EIP_ASSOCIATION, HARDENING, BOOT_KEY)
    for resource in (r for r in result.resources if r.custom and r.type not in untagged):
        assert wanted.items() <= resource.inputs["tags"].items(), resource.name


def test_outputs_per_server_and_shared_without_secrets_in_clear(
    stack: tuple[Path, PreviewResult],
) -> None:
    _, result = stack
    outputs = result.outputs
    assert set(outputs) == {"servers", "securityGroupId", "vswitchId", "adminUser"}
    assert outputs["securityGroupId"].value == one(result, GROUP).id
    assert outputs["vswitchId"].value == one(result, SWITCH).id
    assert outputs["adminUser"].value == "ops"

    servers = outputs["servers"].value
    instances = {i.id: i for i in result.of_type(INSTANCE)}
    assert len(servers) == len(instances)
    for server in servers.values():
        # hardened/hostKeyFingerprint/knownHostsLine/controls come from the hardening's
        # provider, which these mocks do not run.
        provided = {"hardened", "hostKeyFingerprint", "knownHostsLine", "controls"}
        assert set(server) - provided == {*("publicIp", "privateIp", "instanceId", "sshCommand")}
        assert server["instanceId"] in instances
        ipaddress.ip_address(server["publicIp"])
        ipaddress.ip_address(server["privateIp"])
        assert server["sshCommand"] == (
            f"ssh -i ~/.ssh/id_rsa -o IdentitiesOnly=yes ops@{server['publicIp']}"
        )  # no -p for 22 (test_sshd_hardening_graph: -p 2222 for another port)

    # The private key (set, as a secret) is in no input, output, look-up or log message, except
    # the secret privateKey input of the sshd hardening, which logs in with it.
    _, private = rsa_pair()
    body = "".join(private.splitlines()[1:-1])
    hardenings = result.of_type(HARDENING)
    assert hardenings and all("privateKey" in h.secret_inputs for h in hardenings)
    without = tuple(
        dataclasses.replace(r, inputs={k: v for k, v in r.inputs.items() if k != "privateKey"})
        if r.type == HARDENING
        else r
        for r in result.resources
    )
    text = all_text(dataclasses.replace(result, resources=without)).replace("\\n", "")
    # Chunks past the header, which every OpenSSH RSA private key shares.
    assert body[200:260] and body[200:260] not in text and body[-120:-60] not in text
    assert not any(o.secret for o in outputs.values())  # and none of them needs to be


def test_each_server_gets_an_eip_bound_to_it_when_the_stack_asks(
    stack: tuple[Path, PreviewResult],
) -> None:
    path, result = stack
    config = stack_config(path)
    servers = result.outputs["servers"].value
    eips, associations = result.of_type(EIP), result.of_type(EIP_ASSOCIATION)
    if not flag(path, "elasticIp"):
        assert not eips and not associations
        for instance in result.of_type(INSTANCE):
            (hardening,) = [h for h in result.of_type(HARDENING) if h.parent == instance.parent]
            assert not hardening.replace_with
        return

    instances = result.of_type(INSTANCE)
    assert len(eips) == len(associations) == len(instances) == len(servers)
    for instance in instances:
        server = result.by_urn(instance.parent or "")
        (eip,) = [e for e in eips if e.parent == server.urn]
        (association,) = [a for a in associations if a.parent == server.urn]
        (hardening,) = [h for h in result.of_type(HARDENING) if h.parent == server.urn]
        # Billed like the instance, explicitly; the bandwidth moves from the instance to the EIP.
        assert eip.inputs["paymentType"] == "PayAsYouGo"
        assert eip.inputs["internetChargeType"] == "PayByTraffic"
        assert eip.inputs["bandwidth"] == str(config["hardened-ecs:internetMaxBandwidthOut"])
        assert eip.inputs["addressName"] == instance.inputs["hostName"]
        assert eip.inputs.get("deletionProtection", False) is flag(path, "deletionProtection")
        assert instance.inputs["internetMaxBandwidthOut"] == 0
        # Bound to this instance; the old binding goes before a new server's is made.
        assert association.inputs["allocationId"] == eip.id
        assert association.inputs["instanceId"] == instance.id
        assert association.inputs["instanceType"] == "EcsInstance"
        assert {eip.urn, instance.urn} <= association.dependencies
        assert association.delete_before_replace
        # The server's address is the EIP's, and it is used only once the EIP is bound.
        address = servers[server.name]["publicIp"]
        assert address.startswith("198.51.100.")  # the mocks' EIP range, not an instance's
        assert hardening.inputs["host"] == address
        assert servers[server.name]["sshCommand"].endswith(f"ops@{address}")
        assert {association.urn, eip.urn, instance.urn} <= hardening.dependencies
        # The address survives a new instance: the new server is hardened from scratch.
        assert hardening.replace_with == {instance.urn}


def test_on_another_ssh_port_a_new_server_boots_listening_there() -> None:
    """sshPort 2222: the boot drop-in says Port 2222 (ssh.service, and the no-Include block
    says it too), bootcmd points ssh.socket there once (socket activation); the first boot
    itself is tests/hosts/test_first_boot_port.py. On 22 the user data is what it always was."""
    on_22 = deploy(STACK_FILES[0])
    on_2222 = deploy(STACK_FILES[0], config={"sshPort": 2222})
    assert on_2222.ok, (on_2222.config_problems, on_2222.error)
    for instance in on_2222.of_type(INSTANCE):
        document = yaml.safe_load(instance.inputs["userData"])
        (dropin,) = document["write_files"]
        assert dropin["content"].splitlines()[-1] == "Port 2222"
        fallback, socket = document["bootcmd"]
        assert "Port 2222\\n" in fallback[2]
        assert socket[:3] == ["cloud-init-per", "instance", "hardened-ecs-ssh-port"]
        # The engine's own socket drop-in (hardening/planning/socket_port.py), as it wants it.
        assert shlex.quote(socket_dropin_text("2222")) in socket[-1]
        assert f"> {socket_dropin('ssh')}.tmp" in socket[-1]
        assert "systemctl daemon-reload" in socket[-1] and "restart" not in socket[-1]
    for instance in on_22.of_type(INSTANCE):
        document = yaml.safe_load(instance.inputs["userData"])
        assert len(document["bootcmd"]) == 1
        assert "Port" not in document["write_files"][0]["content"]
        assert "Port" not in document["bootcmd"][0][2]
