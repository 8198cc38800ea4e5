"""The policy pack's rules as plain functions over plain dicts: one passing and one
failing resource per rule, plus the parsing the rules rely on."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from pulumi.dynamic.dynamic import serialize_provider

from policy.guardrails.instance_hardening import check_instances_hardened, is_sshd_hardening
from policy.guardrails.key_pair import check_key_pair, describe_public_key
from policy.guardrails.model import Resource, RuleContext, stack_of_urn
from policy.guardrails.prod_protection import check_prod_protection, is_prod
from policy.guardrails.ssh_ingress import check_rule, parse_port_range
from policy.guardrails.tagging import check_tags, is_taggable

CTX = RuleContext(stack="dev")
RULE = "alicloud:ecs/securityGroupRule:SecurityGroupRule"
INSTANCE = "alicloud:ecs/instance:Instance"
KEY_PAIR = "alicloud:ecs/ecsKeyPair:EcsKeyPair"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def urn(stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::hardened-ecs::{type_}::{name}"


def ssh_rule(**overrides: Any) -> dict[str, Any]:
    props = {
        "type": "ingress",
        "ipProtocol": "tcp",
        "portRange": "22/22",
        "cidrIp": "203.0.113.0/24",
        "policy": "accept",
        "nicType": "intranet",
    }
    props.update(overrides)
    return props


def openssh(key: Any) -> str:
    raw: bytes = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return raw.decode()


# --- no SSH from the internet ---------------------------------------------------------------


def test_ssh_rule_from_own_cidr_passes() -> None:
    assert check_rule(RULE, ssh_rule(), CTX) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"cidrIp": "0.0.0.0/0"},
        {"cidrIp": None, "ipv6CidrIp": "::/0"},
        {"portRange": "1/65535", "cidrIp": "0.0.0.0/0"},
        {"ipProtocol": "all", "portRange": "-1/-1", "cidrIp": "0.0.0.0/0"},
        {"ipProtocol": "TCP", "cidrIp": "0.0.0.0/0"},
        # Everyone without a /0: two halves, or any block wider than a /8 (IPv6: /16).
        {"cidrIp": "0.0.0.0/1"},
        {"cidrIp": "128.0.0.0/1"},
        {"cidrIp": "8.0.0.0/7"},
        {"cidrIp": None, "ipv6CidrIp": "::/1"},
        {"cidrIp": None, "ipv6CidrIp": "2000::/3"},
        {"cidrIp": None, "ipv6CidrIp": "2001::/15"},
    ],
)
def test_ssh_rule_from_the_internet_fails_naming_the_config_key(overrides: dict[str, Any]) -> None:
    findings = check_rule(RULE, ssh_rule(**overrides), CTX)
    assert len(findings) == 1
    assert findings[0].config_key == "hardened-ecs:allowedSshCidrs"
    assert "whole internet" in findings[0].message


@pytest.mark.parametrize(
    "overrides",
    [
        {"cidrIp": "0.0.0.0/0", "portRange": "443/443"},  # not SSH
        {"cidrIp": "0.0.0.0/0", "ipProtocol": "udp"},
        {"cidrIp": "0.0.0.0/0", "type": "egress"},
        {"cidrIp": "0.0.0.0/0", "policy": "drop"},
        {"cidrIp": UNKNOWN},  # not known during preview: nothing to judge yet
        {"cidrIp": "10.0.0.0/8"},  # as wide as one organisation's network gets
        {"cidrIp": None, "ipv6CidrIp": "2001::/16"},
    ],
)
def test_rules_that_do_not_open_ssh_to_the_internet_pass(overrides: dict[str, Any]) -> None:
    assert check_rule(RULE, ssh_rule(**overrides), CTX) == []


def test_configured_ssh_port_counts_as_ssh() -> None:
    ctx = RuleContext(stack="dev", ssh_ports=frozenset({22, 2222}))
    props = ssh_rule(cidrIp="0.0.0.0/0", portRange="2222/2222")
    assert check_rule(RULE, props, CTX) == []
    assert len(check_rule(RULE, props, ctx)) == 1


def test_other_resource_types_are_ignored() -> None:
    assert check_rule(INSTANCE, ssh_rule(cidrIp="0.0.0.0/0"), CTX) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22/22", (22, 22)),
        ("1/65535", (1, 65535)),
        ("-1/-1", (1, 65535)),
        (None, (1, 65535)),
        ("22", None),
        ("a/b", None),
    ],
)
def test_parse_port_range(text: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_port_range(text) == expected


def test_unparsable_port_range_fails_closed() -> None:
    assert check_rule(RULE, ssh_rule(cidrIp="0.0.0.0/0", portRange="ssh"), CTX)


# --- key pairs --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_3072() -> str:
    return openssh(rsa.generate_private_key(public_exponent=65537, key_size=3072))


@pytest.fixture(scope="module")
def rsa_2048() -> str:
    return openssh(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def test_rsa_3072_and_ecdsa_key_pairs_pass(rsa_3072: str) -> None:
    ecdsa = openssh(ec.generate_private_key(ec.SECP256R1()))
    assert check_key_pair(KEY_PAIR, {"publicKey": rsa_3072 + " ops@example"}, CTX) == []
    assert check_key_pair(KEY_PAIR, {"publicKey": ecdsa}, CTX) == []
    assert describe_public_key(rsa_3072) == ("ssh-rsa", 3072)


def test_rsa_2048_key_pair_fails(rsa_2048: str) -> None:
    findings = check_key_pair(KEY_PAIR, {"publicKey": rsa_2048}, CTX)
    assert [f.config_key for f in findings] == ["hardened-ecs:sshPublicKey"]
    assert "2048 bits" in findings[0].message


@pytest.mark.filterwarnings("ignore:SSH DSA key support is deprecated")
def test_dsa_and_garbage_key_pairs_fail() -> None:
    dsa_key = openssh(dsa.generate_private_key(key_size=1024))
    assert check_key_pair(KEY_PAIR, {"publicKey": dsa_key}, CTX)
    assert check_key_pair(KEY_PAIR, {"publicKey": "ssh-rsa not-base64!"}, CTX)
    # Declared type and encoded type disagree: a tampered or pasted-wrong key.
    body = openssh(ec.generate_private_key(ec.SECP256R1())).split()[1]
    assert check_key_pair(KEY_PAIR, {"publicKey": f"ssh-rsa {body}"}, CTX)


def test_key_pair_without_imported_key_passes() -> None:
    assert check_key_pair(KEY_PAIR, {"keyPairName": "generated"}, CTX) == []


# --- tags -------------------------------------------------------------------------------------


def test_taggable_types_come_from_the_provider_sdk() -> None:
    assert is_taggable(INSTANCE)
    assert is_taggable("alicloud:vpc/switch:Switch")
    assert not is_taggable(RULE)  # security group rules have no tags
    assert not is_taggable("pulumi-python:dynamic:Resource")
    assert is_taggable("alicloud:index/starrocksinstance:StarRocksInstance")  # package root


def test_tagged_resource_passes() -> None:
    tags = {"environment": "dev", "owner": "platform-team"}
    assert check_tags(INSTANCE, {"tags": tags}, CTX) == []
    assert check_tags(RULE, {}, CTX) == []  # not taggable: nothing to ask


def test_untagged_resource_fails_naming_the_missing_tags() -> None:
    findings = check_tags(INSTANCE, {"tags": {"environment": "dev", "owner": ""}}, CTX)
    assert len(findings) == 1 and "owner" in findings[0].message
    assert "environment" in check_tags(INSTANCE, {}, CTX)[0].message


# --- every public instance hardened (stack) ---------------------------------------------------


class SshdHardeningProvider:
    """Stands in for the real dynamic provider: only its pickled name matters here."""


class SomethingElseProvider:
    pass


def instance(name: str, bandwidth: int = 5, parent: str | None = None) -> Resource:
    res: Resource = {
        "type": INSTANCE,
        "name": name,
        "urn": urn("dev", INSTANCE, name),
        "props": {"internetMaxBandwidthOut": bandwidth},
    }
    if parent:
        res["parent"] = parent
    return res


def hardening(name: str, provider: object, **extra: Any) -> Resource:
    type_ = "pulumi-python:dynamic:Resource"
    props = {"__provider": serialize_provider(provider), "port": 22}
    res: Resource = {"type": type_, "name": name, "urn": urn("dev", type_, name), "props": props}
    res.update(extra)  # type: ignore[typeddict-item]
    return res


def test_dynamic_resource_is_recognised_by_its_pickled_provider() -> None:
    assert is_sshd_hardening(hardening("h", SshdHardeningProvider()))
    assert not is_sshd_hardening(hardening("h", SomethingElseProvider()))
    named: Resource = {"type": "pulumi-python:dynamic/hardening:SshdHardening", "props": {}}
    assert is_sshd_hardening(named)
    assert is_sshd_hardening({"type": "hardened-ecs:hardening:SshdHardening", "props": {}})


def test_public_instance_with_hardening_passes() -> None:
    web = instance("web-0")
    linked = hardening("web-0-sshd", SshdHardeningProvider(), dependencies=[web["urn"]])
    private = instance("batch-0", bandwidth=0)  # no public IP: nothing to harden
    assert check_instances_hardened([web, linked, private], CTX) == []


def test_hardening_linked_by_address_or_component_passes() -> None:
    web = instance("web-0")
    web["props"] = {**web["props"], "publicIp": "192.0.2.10"}
    by_address = hardening("sshd", SshdHardeningProvider())
    by_address["props"] = {**by_address["props"], "host": "192.0.2.10"}
    assert check_instances_hardened([web, by_address], CTX) == []

    component = urn("dev", "hardened-ecs:server:Server", "web-1")
    sibling = instance("web-1", parent=component)
    assert (
        check_instances_hardened(
            [sibling, hardening("sshd-1", SshdHardeningProvider(), parent=component)], CTX
        )
        == []
    )


def test_public_instance_without_hardening_fails() -> None:
    web, api = instance("web-0"), instance("api-0")
    only_web = hardening("web-0-sshd", SshdHardeningProvider(), dependencies=[web["urn"]])
    other = hardening("other", SomethingElseProvider(), dependencies=[api["urn"]])
    findings = check_instances_hardened([web, api, only_web, other], CTX)
    assert [f.urn for f in findings] == [api["urn"]]
    assert "api-0" in findings[0].message


def test_one_hardening_does_not_cover_two_instances() -> None:
    stack_urn = urn("dev", "pulumi:pulumi:Stack", "hardened-ecs-dev")
    a, b = instance("a", parent=stack_urn), instance("b", parent=stack_urn)
    # Top-level siblings are not a link: only the stack is their common parent.
    lone = hardening("sshd", SshdHardeningProvider(), parent=stack_urn)
    assert len(check_instances_hardened([a, b, lone], CTX)) == 2


@pytest.mark.parametrize(
    "overrides",
    [
        {"PasswordAuthentication": "yes"},
        {"passwordauthentication": True},  # YAML true, any case: sshd keywords ignore case
        {"KbdInteractiveAuthentication": "yes"},
        {"ChallengeResponseAuthentication": "Yes"},
        {"PermitRootLogin": "yes"},
        {"PermitEmptyPasswords": "yes"},
        {"PubkeyAuthentication": "no"},
        {"PubkeyAuthentication": False, "MaxAuthTries": "3"},
    ],
)
def test_a_hardening_whose_overrides_reopen_authentication_fails(
    overrides: dict[str, Any],
) -> None:
    web = instance("web-0")
    weak = hardening("web-0-sshd", SshdHardeningProvider(), dependencies=[web["urn"]])
    weak["props"] = {**weak["props"], "overrides": overrides}
    findings = check_instances_hardened([web, weak], CTX)
    assert [f.urn for f in findings] == [weak["urn"]]
    assert "re-opens authentication" in findings[0].message
    assert findings[0].config_key == "hardened-ecs:hardening"


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"PasswordAuthentication": "no", "PermitRootLogin": "no"},
        {"PermitRootLogin": "prohibit-password", "PubkeyAuthentication": "yes"},
        {"MaxAuthTries": "3", "KbdInteractiveAuthentication": False},
    ],
)
def test_a_hardening_whose_overrides_keep_authentication_closed_passes(
    overrides: dict[str, Any],
) -> None:
    web = instance("web-0")
    strict = hardening("web-0-sshd", SshdHardeningProvider(), dependencies=[web["urn"]])
    strict["props"] = {**strict["props"], "overrides": overrides}
    assert check_instances_hardened([web, strict], CTX) == []


def test_a_sibling_hardening_of_another_host_does_not_count() -> None:
    component = urn("dev", "hardened-ecs:server:Server", "web-0")
    web = instance("web-0", parent=component)
    web["props"] = {**web["props"], "publicIp": "192.0.2.10"}
    elsewhere = hardening("sshd", SshdHardeningProvider(), parent=component)
    elsewhere["props"] = {**elsewhere["props"], "host": "203.0.113.99"}
    findings = check_instances_hardened([web, elsewhere], CTX)
    assert [f.urn for f in findings] == [web["urn"]]
    # A dependency does not make up for a host that is known to be another one either.
    linked = hardening("sshd", SshdHardeningProvider(), dependencies=[web["urn"]])
    linked["props"] = {**linked["props"], "host": "203.0.113.99"}
    assert [f.urn for f in check_instances_hardened([web, linked], CTX)] == [web["urn"]]


def test_a_sibling_hardening_counts_when_its_host_is_this_server_or_not_known() -> None:
    component = urn("dev", "hardened-ecs:server:Server", "web-0")
    web = instance("web-0", parent=component)
    for host in ("192.0.2.10", UNKNOWN, None):
        sibling = hardening("sshd", SshdHardeningProvider(), parent=component)
        sibling["props"] = {**sibling["props"], "host": host}
        web["props"] = {**web["props"], "publicIp": "192.0.2.10"}
        assert check_instances_hardened([web, sibling], CTX) == [], host
        # The instance's own address not known yet (preview): nothing contradicts the pairing.
        web["props"] = {**web["props"], "publicIp": UNKNOWN}
        assert check_instances_hardened([web, sibling], CTX) == [], host


EIP = "alicloud:ecs/eipAddress:EipAddress"
EIP_ASSOCIATION = "alicloud:ecs/eipAssociation:EipAssociation"


def behind_eip(name: str, address: str = "198.51.100.10") -> list[Resource]:
    """An instance without a public IP of its own, its EIP, and the association binding them."""
    server = instance(name, bandwidth=0)
    eip: Resource = {
        "type": EIP,
        "name": f"{name}-eip",
        "urn": urn("dev", EIP, f"{name}-eip"),
        "props": {"ipAddress": address, "bandwidth": "5"},
    }
    association: Resource = {
        "type": EIP_ASSOCIATION,
        "name": f"{name}-eip-association",
        "urn": urn("dev", EIP_ASSOCIATION, f"{name}-eip-association"),
        "props": {},
        "dependencies": [server["urn"], eip["urn"]],
    }
    return [server, eip, association]


def test_instance_reached_through_an_eip_without_hardening_fails() -> None:
    server, eip, association = behind_eip("web-0")
    findings = check_instances_hardened([server, eip, association], CTX)
    assert [f.urn for f in findings] == [server["urn"]]
    assert "EIP" in findings[0].message
    assert findings[0].config_key == "hardened-ecs:elasticIp"
    # An unbound EIP makes no instance public.
    assert check_instances_hardened([server, eip], CTX) == []


def test_instance_behind_an_eip_hardened_through_its_address_or_association_passes() -> None:
    server, eip, association = behind_eip("web-0")
    by_address = hardening("sshd", SshdHardeningProvider())
    by_address["props"] = {**by_address["props"], "host": "198.51.100.10"}
    assert check_instances_hardened([server, eip, association, by_address], CTX) == []
    after_association = hardening(
        "sshd", SshdHardeningProvider(), dependencies=[association["urn"]]
    )
    assert check_instances_hardened([server, eip, association, after_association], CTX) == []


def test_a_hardening_of_one_eip_does_not_cover_another_eips_instance() -> None:
    a = behind_eip("a", "198.51.100.10")
    b = behind_eip("b", "198.51.100.11")
    only_a = hardening("sshd", SshdHardeningProvider())
    only_a["props"] = {**only_a["props"], "host": "198.51.100.10"}
    findings = check_instances_hardened([*a, *b, only_a], CTX)
    assert [f.urn for f in findings] == [b[0]["urn"]]


def test_a_sibling_hardening_of_an_eip_instance_must_target_that_eip() -> None:
    component = urn("dev", "hardened-ecs:server:Server", "web-0")
    server, eip, association = behind_eip("web-0", "198.51.100.10")
    server["parent"] = component
    for host, ok in (("198.51.100.10", True), ("198.51.100.99", False)):
        sibling = hardening("sshd", SshdHardeningProvider(), parent=component)
        sibling["props"] = {**sibling["props"], "host": host}
        findings = check_instances_hardened([server, eip, association, sibling], CTX)
        assert (findings == []) is ok, host


# --- prod protection (stack) ------------------------------------------------------------------

PROD = RuleContext(stack="prod")


def prod_stack(protect: bool, eip: bool) -> list[Resource]:
    server = instance("web-0")
    server["props"] = {**server["props"], "deletionProtection": protect}
    resources = [server]
    if eip:
        eip_urn = urn("prod", "alicloud:ecs/eipAddress:EipAddress", "web-0-eip")
        resources += [
            {"type": "alicloud:ecs/eipAddress:EipAddress", "urn": eip_urn, "props": {}},
            {
                "type": "alicloud:ecs/eipAssociation:EipAssociation",
                "props": {},
                "dependencies": [server["urn"], eip_urn],
            },
        ]
    return resources


def test_protected_prod_stack_with_eip_passes() -> None:
    assert check_prod_protection(prod_stack(protect=True, eip=True), PROD) == []


def test_prod_stack_without_protection_or_eip_fails() -> None:
    messages = [f.message for f in check_prod_protection(prod_stack(False, False), PROD)]
    assert any("deletionProtection" in m for m in messages)
    assert any("no EIP" in m for m in messages)
    assert any("no EIP association" in m for m in messages)


def test_non_prod_stack_is_not_held_to_prod_rules() -> None:
    assert check_prod_protection(prod_stack(False, False), CTX) == []


@pytest.mark.parametrize("stack", ["prod", "PROD", "prod-eu", "eu-west-prod", "prod-2"])
def test_prod_named_stacks_are_held_to_prod_rules(stack: str) -> None:
    assert is_prod(stack)
    assert check_prod_protection(prod_stack(False, False), RuleContext(stack=stack)) != []


@pytest.mark.parametrize(
    "stack", ["dev", "nonprod", "preprod", "production", "prodlike", "nonprod-eu", "eu-preprod", ""]
)
def test_stacks_merely_containing_prod_are_not_prod(stack: str) -> None:
    assert not is_prod(stack)
    assert check_prod_protection(prod_stack(False, False), RuleContext(stack=stack)) == []


def test_stack_name_comes_from_the_urn() -> None:
    assert stack_of_urn(urn("prod-eu", INSTANCE, "x")) == "prod-eu"
    assert stack_of_urn("not-a-urn") == ""
