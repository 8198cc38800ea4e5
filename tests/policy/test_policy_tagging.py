"""The policy rule that every taggable resource carries the required tags (environment, owner)."""

from __future__ import annotations

from policy.guardrails.tagging import check_tags, is_taggable
from tests.policy.resources import CTX, INSTANCE, RULE


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
