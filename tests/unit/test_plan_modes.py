"""make_plan over the nine distributions: the in-place block, drop-in mode and what forces
in-place, and the validation file that spells the Include out.
"""

from __future__ import annotations

import dataclasses

import pytest

from hardening.host.facts import HostFacts
from hardening.host.paths import DROPIN_DIR, MAIN_CONFIG, staged_path
from hardening.planning import sshd_config
from hardening.planning.plan import DROPIN_PATH, FileChange
from tests.facts import WITH_INCLUDE, WITHOUT_INCLUDE, load_facts, plan_for

STAGED_DROPIN = "/etc/ssh/sshd_config.d/.00-hardened-ecs.conf.hardened-ecs-new"


def _with_dropins(facts: HostFacts, extra: dict[str, str]) -> HostFacts:
    """Facts with more files in sshd_config.d (name -> content)."""
    return dataclasses.replace(facts, dropins={**facts.dropins, **extra})


# --- in-place block --------------------------------------------------------------------------


@pytest.mark.parametrize("slug", WITHOUT_INCLUDE)
def test_inplace_block_is_at_the_top_and_keeps_the_rest_verbatim(slug: str) -> None:
    facts = load_facts(slug)
    plan = plan_for(facts)
    content = plan.files[0].content
    assert content is not None
    assert content.splitlines()[0] == sshd_config.BEGIN
    _, sep, rest = content.partition(sshd_config.END + "\n")
    assert sep
    assert rest == facts.main_config  # Subsystem, HostKey, AcceptEnv... untouched
    assert plan.validation_main == content


@pytest.mark.parametrize("slug", WITHOUT_INCLUDE)
def test_inplace_block_replaces_itself_wherever_it_was(slug: str) -> None:
    facts = load_facts(slug)
    stale = sshd_config.with_block(facts.main_config, {"MaxAuthTries": "5", "Banner": "/x"})
    # Someone put a line above our block: it must move back to the very top.
    moved = "PermitRootLogin yes\n" + stale
    plan = plan_for(dataclasses.replace(facts, main_config=moved))
    content = plan.files[0].content
    assert content is not None
    assert content.count(sshd_config.BEGIN) == 1
    assert content.count(sshd_config.END) == 1
    assert content.startswith(sshd_config.BEGIN + "\n")
    assert "Banner /x" not in content
    assert "MaxAuthTries 3\n" in content
    assert content.endswith("PermitRootLogin yes\n" + facts.main_config)


@pytest.mark.parametrize("slug", WITHOUT_INCLUDE)
def test_inplace_removes_a_leftover_dropin_of_ours(slug: str) -> None:
    facts = load_facts(slug)
    leftover = dataclasses.replace(facts, dropins={sshd_config.DROPIN_NAME: "MaxAuthTries 5\n"})
    plan = plan_for(leftover)
    assert plan.mode == "inplace"
    assert FileChange(DROPIN_PATH, None) in plan.files


# --- drop-in mode and what forces in-place ----------------------------------------------------


@pytest.mark.parametrize("slug", WITH_INCLUDE)
def test_validation_main_spells_the_include_out_in_glob_order(slug: str) -> None:
    facts = load_facts(slug)
    plan = plan_for(facts)
    names = sorted([*facts.dropins, sshd_config.DROPIN_NAME])
    paths = [STAGED_DROPIN if n == sshd_config.DROPIN_NAME else f"{DROPIN_DIR}/{n}" for n in names]
    spelled = "".join(f"Include {p}\n" for p in paths)
    assert spelled.startswith(f"Include {STAGED_DROPIN}\n")  # ours sorts first everywhere
    assert staged_path(DROPIN_PATH) == STAGED_DROPIN
    expected = facts.main_config.replace("Include /etc/ssh/sshd_config.d/*.conf\n", spelled, 1)
    assert plan.validation_main == expected
    assert "Include /etc/ssh/sshd_config.d/*.conf" not in plan.validation_main


def test_validation_main_for_rocky_lists_its_three_dropins_after_ours() -> None:
    plan = plan_for(load_facts("rocky-9"))
    includes = [ln for ln in plan.validation_main.splitlines() if ln.startswith("Include ")]
    assert includes == [
        f"Include {STAGED_DROPIN}",
        "Include /etc/ssh/sshd_config.d/01-permitrootlogin.conf",
        "Include /etc/ssh/sshd_config.d/50-cloud-init.conf",
        "Include /etc/ssh/sshd_config.d/50-redhat.conf",
    ]


def test_validation_main_skips_files_the_glob_does_not_match() -> None:
    facts = _with_dropins(load_facts("debian-12"), {"README": "see the wiki\n"})
    assert "README" in facts.dropins
    plan = plan_for(facts)
    assert plan.mode == "dropin"
    assert "README" not in plan.validation_main


@pytest.mark.parametrize("slug", WITH_INCLUDE)
def test_a_dropin_sorting_before_ours_that_sets_a_managed_key_forces_inplace(slug: str) -> None:
    facts = _with_dropins(load_facts(slug), {"00-aaa.conf": "PasswordAuthentication yes\n"})
    assert "00-aaa.conf" in facts.dropins
    assert sorted(["00-aaa.conf", sshd_config.DROPIN_NAME])[0] == "00-aaa.conf"
    plan = plan_for(facts)
    assert plan.mode == "inplace"
    assert plan.mode_reason == (
        "/etc/ssh/sshd_config.d/00-aaa.conf sorts before our drop-in and sets "
        "passwordauthentication: managed block at the top of the main file"
    )
    assert [c.path for c in plan.files] == [MAIN_CONFIG]
    content = plan.files[0].content
    assert content is not None and content.startswith(sshd_config.BEGIN)
    # The block stands above the Include line, so it is read before 00-aaa.conf.
    assert content.index("PasswordAuthentication no") < content.index("Include /etc/ssh")


@pytest.mark.parametrize("slug", WITH_INCLUDE)
def test_a_dropin_sorting_before_ours_with_only_host_settings_keeps_dropin(slug: str) -> None:
    facts = _with_dropins(load_facts(slug), {"00-aaa.conf": "Port 2222\nListenAddress ::\n"})
    plan = plan_for(facts)
    assert plan.mode == "dropin"
    includes = [ln for ln in plan.validation_main.splitlines() if ln.startswith("Include ")]
    assert includes[:2] == [
        "Include /etc/ssh/sshd_config.d/00-aaa.conf",
        f"Include {STAGED_DROPIN}",
    ]


@pytest.mark.parametrize("slug", WITH_INCLUDE)
def test_a_dropin_sorting_after_ours_never_matters(slug: str) -> None:
    facts = _with_dropins(load_facts(slug), {"99-zzz.conf": "PermitRootLogin yes\n"})
    assert plan_for(facts).mode == "dropin"


@pytest.mark.parametrize("slug", WITH_INCLUDE)
def test_a_managed_key_before_the_include_forces_inplace(slug: str) -> None:
    facts = load_facts(slug)
    main = "PermitRootLogin yes\nMaxAuthTries 6\n" + facts.main_config
    plan = plan_for(dataclasses.replace(facts, main_config=main))
    assert plan.mode == "inplace"
    assert plan.mode_reason.startswith(
        "/etc/ssh/sshd_config sets maxauthtries, permitrootlogin before its Include line"
    )
    content = plan.files[0].content
    assert content is not None
    assert content.startswith(sshd_config.BEGIN)
    assert content.endswith(main)


@pytest.mark.parametrize("slug", WITH_INCLUDE)
def test_a_host_key_before_the_include_keeps_dropin(slug: str) -> None:
    facts = load_facts(slug)
    main = "Port 2222\nHostKey /etc/ssh/ssh_host_ed25519_key\n" + facts.main_config
    assert plan_for(dataclasses.replace(facts, main_config=main)).mode == "dropin"


@pytest.mark.parametrize("slug", WITH_INCLUDE)
def test_an_include_inside_a_match_block_does_not_count(slug: str) -> None:
    facts = load_facts(slug)
    main = facts.main_config.replace(
        "Include /etc/ssh/sshd_config.d/*.conf\n",
        "Match User nobody\n    Include /etc/ssh/sshd_config.d/*.conf\n",
    )
    assert plan_for(dataclasses.replace(facts, main_config=main)).mode == "inplace"


@pytest.mark.parametrize("slug", WITH_INCLUDE)
def test_a_leftover_inplace_block_is_removed_when_a_dropin_can_win(slug: str) -> None:
    facts = load_facts(slug)
    main = sshd_config.with_block(facts.main_config, {"MaxAuthTries": "5"})
    plan = plan_for(dataclasses.replace(facts, main_config=main))
    assert plan.mode == "dropin"
    assert FileChange(MAIN_CONFIG, facts.main_config) in plan.files
    assert [c.path for c in plan.files] == [DROPIN_PATH, MAIN_CONFIG]


@pytest.mark.parametrize("slug", ["ubuntu-22.04", "debian-12", "rocky-9"])
def test_an_alias_in_an_earlier_dropin_forces_inplace(slug: str) -> None:
    facts = _with_dropins(
        load_facts(slug), {"00-aaa.conf": "ChallengeResponseAuthentication yes\n"}
    )
    assert plan_for(facts).mode == "inplace"
