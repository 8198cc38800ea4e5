"""The registered pulumi-policy objects: each policy's validate called with the argument
objects the SDK builds, and the pack served exactly as `pulumi preview --policy-pack
policy` starts it (`python -m pulumi.policy`), queried over the Analyzer gRPC API."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
import pulumi
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from google.protobuf import empty_pb2, struct_pb2  # type: ignore[import-untyped]  # no stubs pinned
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policy.guardrails.policies import POLICIES

ROOT = Path(__file__).resolve().parents[2]
INSTANCE = "alicloud:ecs/instance:Instance"
RULE = "alicloud:ecs/securityGroupRule:SecurityGroupRule"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def urn(type_: str, name: str, stack: str = "dev") -> str:
    return f"urn:pulumi:{stack}::hardened-ecs::{type_}::{name}"


def policy(name: str) -> Policy:
    return next(p for p in POLICIES if p.name == name)


def opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def validate_resource(
    name: str, type_: str, props: dict[str, Any], stack: str = "dev"
) -> list[str]:
    pol = policy(name)
    assert isinstance(pol, ResourceValidationPolicy)
    args = ResourceValidationArgs(
        type_, unknown_checking_proxy(props), urn(type_, "r", stack), "r", opts(), None
    )
    seen: list[str] = []

    def report(message: str, _urn: str | None = None) -> None:
        seen.append(message)

    pol.validate(args, report)
    return seen


def stack_resource(
    type_: str,
    name: str,
    props: dict[str, Any],
    stack: str = "dev",
    depends_on: list[PolicyResource] | None = None,
) -> PolicyResource:
    return PolicyResource(
        type_,
        unknown_checking_proxy(props),
        urn(type_, name, stack),
        name,
        opts(),
        None,
        None,
        depends_on or [],
        {},
    )


def validate_stack(name: str, resources: list[PolicyResource]) -> list[tuple[str, str | None]]:
    pol = policy(name)
    assert isinstance(pol, StackValidationPolicy)
    seen: list[tuple[str, str | None]] = []

    def report(message: str, flagged: str | None = None) -> None:
        seen.append((message, flagged))

    pol.validate(StackValidationArgs(resources), report)
    return seen


class SshdHardeningProvider:
    """Stands in for the real dynamic provider: only its pickled name matters here."""


def hardening(depends_on: list[PolicyResource]) -> PolicyResource:
    props = {"__provider": serialize_provider(SshdHardeningProvider()), "host": UNKNOWN}
    return stack_resource("pulumi-python:dynamic:Resource", "sshd", props, depends_on=depends_on)


def test_pack_registers_every_rule_at_its_level() -> None:
    levels = {p.name: p.enforcement_level for p in POLICIES}
    assert levels == {
        "no-ssh-from-internet": EnforcementLevel.MANDATORY,
        "no-weak-key-pair": EnforcementLevel.MANDATORY,
        "public-instances-hardened": EnforcementLevel.MANDATORY,
        "closed-from-first-boot": EnforcementLevel.MANDATORY,
        "required-tags": EnforcementLevel.ADVISORY,
        "prod-protection": EnforcementLevel.ADVISORY,
    }


def test_no_ssh_from_internet_policy() -> None:
    good = {"type": "ingress", "ipProtocol": "tcp", "portRange": "22/22", "cidrIp": "10.0.0.0/8"}
    assert validate_resource("no-ssh-from-internet", RULE, good) == []
    bad = {**good, "cidrIp": "0.0.0.0/0"}
    [violation] = validate_resource("no-ssh-from-internet", RULE, bad)
    assert "hardened-ecs:allowedSshCidrs" in violation


def openssh(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    raw = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return raw.decode()


def test_no_ssh_from_internet_follows_the_stacks_ssh_port(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI hands the analyzer the stack config: with sshPort 2222 the world-open rule is the
    # one on 2222 (issue 21); 22 stays SSH too (the policy config's sshPorts default).
    stack_config = {"hardened-ecs:sshPort": "2222"}
    monkeypatch.setattr(pulumi.runtime, "get_config", stack_config.get)
    world = {"type": "ingress", "ipProtocol": "tcp", "cidrIp": "0.0.0.0/0"}
    for port in (2222, 22):
        [violation] = validate_resource(
            "no-ssh-from-internet", RULE, {**world, "portRange": f"{port}/{port}"}
        )
        assert "hardened-ecs:allowedSshCidrs" in violation
    assert validate_resource("no-ssh-from-internet", RULE, {**world, "portRange": "443/443"}) == []
    monkeypatch.setattr(pulumi.runtime, "get_config", {}.get)
    assert (
        validate_resource("no-ssh-from-internet", RULE, {**world, "portRange": "2222/2222"}) == []
    )


def test_no_weak_key_pair_policy() -> None:
    ecdsa = openssh(ec.generate_private_key(ec.SECP256R1()))
    weak = openssh(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    key_pair = "alicloud:ecs/ecsKeyPair:EcsKeyPair"
    assert validate_resource("no-weak-key-pair", key_pair, {"publicKey": ecdsa}) == []
    [violation] = validate_resource("no-weak-key-pair", key_pair, {"publicKey": weak})
    assert "1024 bits" in violation and "hardened-ecs:sshPublicKey" in violation


def test_required_tags_policy() -> None:
    tags = {"environment": "dev", "owner": "ops"}
    assert validate_resource("required-tags", INSTANCE, {"tags": tags}) == []
    assert validate_resource("required-tags", INSTANCE, {"tags": {"environment": "dev"}})


def test_public_instances_hardened_policy_uses_engine_dependencies() -> None:
    server = stack_resource(INSTANCE, "web-0", {"internetMaxBandwidthOut": 5, "publicIp": UNKNOWN})
    assert validate_stack("public-instances-hardened", [server, hardening([server])]) == []
    [(message, flagged)] = validate_stack("public-instances-hardened", [server])
    assert "web-0" in message and flagged == server.urn


def test_public_instances_hardened_policy_follows_an_eip_association() -> None:
    # Bandwidth 0: no public IP of its own; the EIP bound by the association is its address.
    server = stack_resource(INSTANCE, "web-0", {"internetMaxBandwidthOut": 0})
    eip = stack_resource("alicloud:ecs/eipAddress:EipAddress", "eip", {"ipAddress": UNKNOWN})
    assoc = stack_resource(
        "alicloud:ecs/eipAssociation:EipAssociation", "assoc", {}, depends_on=[server, eip]
    )
    hardened = [server, eip, assoc, hardening([assoc])]
    assert validate_stack("public-instances-hardened", hardened) == []
    [(message, flagged)] = validate_stack("public-instances-hardened", [server, eip, assoc])
    assert "web-0" in message and "EIP" in message and flagged == server.urn
    assert "hardened-ecs:elasticIp" in message


def test_prod_protection_policy_reads_the_stack_from_urns() -> None:
    def stack(protect: bool, name: str) -> list[PolicyResource]:
        props = {"deletionProtection": protect, "internetMaxBandwidthOut": 5}
        server = stack_resource(INSTANCE, "web-0", props, stack=name)
        eip = stack_resource("alicloud:ecs/eipAddress:EipAddress", "eip", {}, stack=name)
        assoc = stack_resource(
            "alicloud:ecs/eipAssociation:EipAssociation",
            "assoc",
            {},
            stack=name,
            depends_on=[server, eip],
        )
        return [server, eip, assoc]

    assert validate_stack("prod-protection", stack(True, "prod")) == []
    assert validate_stack("prod-protection", stack(False, "dev")) == []
    assert validate_stack("prod-protection", stack(False, "preprod")) == []  # not prod by name
    assert len(validate_stack("prod-protection", stack(False, "prod-eu"))) == 1
    [(message, _)] = validate_stack("prod-protection", stack(False, "prod"))
    assert "deletionProtection" in message


def test_unknown_value_is_left_to_the_engine() -> None:
    # During preview the proxy raises on unknowns; pulumi-policy turns that into a note.
    from pulumi_policy.proxy import UnknownValueError

    with pytest.raises(UnknownValueError):
        validate_resource(
            "no-weak-key-pair", "alicloud:ecs/ecsKeyPair:EcsKeyPair", {"publicKey": UNKNOWN}
        )


# --- the pack as the Pulumi CLI runs it ------------------------------------------------------


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    # pulumi-analyzer-policy-python runs `python -m pulumi.policy ENGINE PACK_DIR`;
    # PolicyPack() prints its port and serves until killed.
    proc = subprocess.Popen(
        [sys.executable, "-m", "pulumi.policy", "127.0.0.1:0", str(ROOT / "policy")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT / "policy",
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert port.isdigit(), proc.stderr.read() if proc.stderr else "no port"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.kill()
        proc.wait()


def struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def test_served_pack_lists_its_policies(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "hardened-ecs-guardrails"
    assert {p.name for p in info.policies} == {p.name for p in POLICIES}


def test_served_pack_blocks_ssh_from_the_internet(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    props = {"type": "ingress", "ipProtocol": "tcp", "portRange": "22/22", "cidrIp": "0.0.0.0/0"}
    response = analyzer.Analyze(
        analyzer_pb2.AnalyzeRequest(
            type=RULE, properties=struct(props), urn=urn(RULE, "r"), name="r"
        )
    )
    [diagnostic] = response.diagnostics
    assert diagnostic.policyName == "no-ssh-from-internet"
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY


def test_served_pack_flags_an_unhardened_public_instance(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    tags = {"environment": "dev", "owner": "ops"}
    server = analyzer_pb2.AnalyzerResource(
        type=INSTANCE,
        urn=urn(INSTANCE, "web-0"),
        name="web-0",
        properties=struct({"internetMaxBandwidthOut": 5, "tags": tags}),
    )
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[server]))
    # No hardening, and no user data that closes it at boot: both mandatory rules say so.
    assert sorted((d.policyName, d.urn) for d in response.diagnostics) == [
        ("closed-from-first-boot", server.urn),
        ("public-instances-hardened", server.urn),
    ]
