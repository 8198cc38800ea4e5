"""The stack policy rule that every public instance is hardened: one SshdHardening per
instance, reached by its address, its EIP or its component, with authentication kept closed.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from policy.guardrails.instance_hardening import check_instances_hardened, is_sshd_hardening
from policy.guardrails.model import Resource
from tests.policy.resources import CTX, UNKNOWN, instance, urn


class SshdHardeningProvider:
    """Stands in for the real dynamic provider: only its pickled name matters here."""


class SomethingElseProvider:
    pass


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
