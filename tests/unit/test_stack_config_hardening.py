"""Stack configuration: the `hardening` block (directives, values, profile, adopting an existing
admin account, system accounts) is refused before any resource, naming key and fix.

Every case runs the real __main__.py (through tools.offline_preview) on the dev stack with one
thing changed, as the update step of `pulumi up`, with an otherwise valid matching key pair.
"""

from __future__ import annotations

import pytest

from tests.unit.config_refusal import DEV, refused
from tests.unit.program_preview import deploy

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_unknown_hardening_directive() -> None:
    problem = refused(
        deploy(DEV, config={"hardening": {"profile": "baseline", "set": {"PermitRootLogn": "no"}}}),
        "hardened-ecs:hardening",
        "set.PermitRootLogn",
        "hardening.set.PermitRootLogn",
    )
    assert "unknown" in problem


def test_malformed_hardening_value() -> None:
    refused(
        deploy(DEV, config={"hardening": {"set": {"MaxAuthTries": "lots"}}}),
        "hardened-ecs:hardening",
        "set.MaxAuthTries='lots'",
    )


def test_unknown_hardening_profile() -> None:
    refused(
        deploy(DEV, config={"hardening": {"profile": "paranoid"}}),
        "hardened-ecs:hardening",
        "paranoid",
    )


def test_valid_hardening_overrides_are_accepted() -> None:
    hardening = {"profile": "minimal", "set": {"MaxAuthTries": 3, "X11Forwarding": False}}
    result = deploy(DEV, config={"hardening": hardening})
    assert result.ok, result.config_problems


HARDENING_TYPE = "pulumi-python:dynamic/hardening:SshdHardening"


def test_adopting_an_existing_admin_account_is_an_explicit_boolean_setting() -> None:
    default = deploy(DEV)
    assert default.ok, default.config_problems
    assert all(h.inputs["adoptAdminUser"] is False for h in default.of_type(HARDENING_TYPE))
    adopted = deploy(DEV, config={"hardening": {"adoptAdminUser": True}})
    assert adopted.ok, adopted.config_problems
    hardenings = adopted.of_type(HARDENING_TYPE)
    assert hardenings and all(h.inputs["adoptAdminUser"] is True for h in hardenings)
    refused(
        deploy(DEV, config={"hardening": {"adoptAdminUser": "yes"}}),
        "hardened-ecs:hardening",
        "adoptAdminUser must be true or false",
    )


@pytest.mark.parametrize("placement", ["dropin", "block"])
def test_placement_reaches_every_servers_hardening(placement: str) -> None:
    result = deploy(DEV, config={"hardening": {"profile": "baseline", "placement": placement}})
    assert result.ok, result.config_problems
    hardenings = result.of_type(HARDENING_TYPE)
    assert hardenings and all(h.inputs["placement"] == placement for h in hardenings)


def test_placement_defaults_to_dropin() -> None:
    result = deploy(DEV)
    assert result.ok, result.config_problems
    hardenings = result.of_type(HARDENING_TYPE)
    assert hardenings and all(h.inputs["placement"] == "dropin" for h in hardenings)


@pytest.mark.parametrize("placement", ["top", "Block", True, ["block"]])
def test_an_unknown_placement_is_refused_naming_the_setting_and_both_fixes(
    placement: object,
) -> None:
    problem = refused(
        deploy(DEV, config={"hardening": {"placement": placement}}),
        "hardened-ecs:hardening",
        f"placement must be one of dropin, block, not {placement!r}",
        "`pulumi config set --path 'hardened-ecs:hardening.placement' dropin`",
        "`pulumi config set --path 'hardened-ecs:hardening.placement' block`",
    )
    assert problem.count("placement must") == 1


def test_a_huge_number_in_the_hardening_set_is_refused_not_a_crash() -> None:
    problem = refused(
        deploy(DEV, config={"hardening": {"set": {"MaxAuthTries": "9" * 5000}}}),
        "hardened-ecs:hardening",
        "expected a whole number from 1 to 100",
    )
    assert len(problem) < 2000, problem


@pytest.mark.parametrize("user", ["nobody", "daemon", "sshd", "www-data", "adm"])
def test_system_accounts_are_refused_like_the_cli_refuses_them(user: str) -> None:
    refused(
        deploy(DEV, config={"adminUser": user}),
        "hardened-ecs:adminUser",
        "system or image account",
    )
