"""The stack policy rule for prod-named stacks: deletion protection and an elastic IP."""

from __future__ import annotations

import pytest

from policy.guardrails.model import Resource, RuleContext, stack_of_urn
from policy.guardrails.prod_protection import check_prod_protection, is_prod
from tests.policy.resources import CTX, INSTANCE, instance, urn

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
