"""make_plan over the nine distributions: the mode, the file it writes, the service commands, the
daemon's own command line and idempotence.
"""

from __future__ import annotations

import dataclasses

import pytest

from hardening.host.paths import MAIN_CONFIG
from hardening.model.desired import Request
from hardening.planning import sshd_config
from hardening.planning.plan import DROPIN_PATH, SYSCONFIG_SSHD, cmdline_overrides
from tests.facts import EXPECTED, SLUGS, applied, load_facts, plan_for

# --- mode, files, service ------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_mode_and_the_file_it_writes(slug: str) -> None:
    facts = load_facts(slug)
    plan = plan_for(facts)
    assert plan.mode == EXPECTED[slug].mode
    crypto_fix = EXPECTED[slug].crypto_policy_on_cmdline
    assert len(plan.files) == (2 if crypto_fix else 1)
    assert plan.restart_needed is crypto_fix
    change = plan.files[0]
    assert change.content is not None
    if plan.mode == "dropin":
        assert change.path == DROPIN_PATH == "/etc/ssh/sshd_config.d/00-hardened-ecs.conf"
        assert change.content == sshd_config.render_dropin(plan.wanted())
        assert "read first through /etc/ssh/sshd_config's Include" in plan.mode_reason
    else:
        assert change.path == MAIN_CONFIG
        assert change.content.startswith(sshd_config.BEGIN + "\n")
        assert "has no Include of /etc/ssh/sshd_config.d: edited in place" in plan.mode_reason


@pytest.mark.parametrize("slug", SLUGS)
def test_service_commands_in_the_plan(slug: str) -> None:
    plan = plan_for(load_facts(slug))
    want = EXPECTED[slug]
    # Options from the unit's environment are read only when sshd starts: restart, not reload.
    assert plan.service.reload == (want.restart if want.crypto_policy_on_cmdline else want.reload)
    assert plan.service.restart == want.restart


# --- the daemon's own command line (RHEL 8 / Alibaba Cloud Linux 3 crypto policy) ---------------


def test_alinux_crypto_policy_on_the_command_line_is_the_live_value() -> None:
    facts = load_facts("alinux-3")
    plan = plan_for(facts)
    live = {s.directive: s.effective for s in plan.settings}
    assert live["Ciphers"] is not None and live["Ciphers"].startswith("aes256-gcm@openssh.com,")
    assert live["Ciphers"] != facts.effective["ciphers"]  # sshd -T shows compiled defaults
    assert live["KexAlgorithms"] is not None and live["KexAlgorithms"].endswith("group14-sha1")
    assert plan.notes == [
        "the running sshd gets ciphers, hostkeyalgorithms, kexalgorithms, macs on its command "
        "line (system-wide crypto policy): /etc/sysconfig/sshd opts out and sshd is restarted"
    ]
    sysconfig = plan.files[1]
    assert sysconfig.path == SYSCONFIG_SSHD == "/etc/sysconfig/sshd"
    assert facts.sysconfig_sshd is not None
    assert sysconfig.content == facts.sysconfig_sshd + (
        "# hardened-ecs: sshd_config's crypto lists, not the system-wide crypto policy\n"
        "CRYPTO_POLICY=\n"
    )
    assert plan.needs_admin is True


def test_alinux_opted_out_but_not_restarted_still_needs_the_restart() -> None:
    facts = load_facts("alinux-3")
    first = plan_for(facts)
    written = dataclasses.replace(
        applied(facts, first), listener_cmdline=facts.listener_cmdline
    )  # files in place, daemon still the old one
    again = plan_for(written)
    assert again.files == []
    assert again.restart_needed is True
    assert again.changes is True
    assert again.service.reload == "systemctl restart sshd.service"
    done = plan_for(applied(facts, first))
    assert done.restart_needed is False
    assert done.changes is False


@pytest.mark.parametrize("slug", [s for s in SLUGS if s != "alinux-3"])
def test_no_command_line_overrides_elsewhere(slug: str) -> None:
    facts = load_facts(slug)
    keys = {k.lower() for k in plan_for(facts).wanted()}
    assert cmdline_overrides(facts.listener_cmdline, keys) == {}
    plan = plan_for(facts)
    assert plan.restart_needed is False
    assert all(c.path != SYSCONFIG_SSHD for c in plan.files)
    assert plan.notes == []


def test_cmdline_overrides_forms() -> None:
    keys = {"ciphers", "macs", "permitrootlogin"}
    cmdline = "/usr/sbin/sshd -D -oCiphers=aes128-ctr -o MACs=hmac-sha2-256 -oPort=2 -f /x"
    assert cmdline_overrides(cmdline, keys) == {"ciphers": "aes128-ctr", "macs": "hmac-sha2-256"}
    assert cmdline_overrides("", keys) == {}


@pytest.mark.parametrize("slug", SLUGS)
def test_rendered_file_lists_every_wanted_directive_once_in_order(slug: str) -> None:
    plan = plan_for(load_facts(slug))
    content = plan.files[0].content
    assert content is not None
    if plan.mode == "inplace":
        block = content.split(sshd_config.END)[0]
        assert block.count(sshd_config.BEGIN) == 1
    else:
        block = content
    lines = [ln for ln in block.splitlines() if ln and not ln.startswith("#")]
    assert lines == [f"{k} {v}" for k, v in plan.wanted().items()]
    assert lines[:4] == [
        "PermitRootLogin no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
    ]


@pytest.mark.parametrize("slug", SLUGS)
def test_challenge_response_written_only_before_8_7(slug: str) -> None:
    plan = plan_for(load_facts(slug))
    content = plan.files[0].content
    assert content is not None
    before_87 = EXPECTED[slug].version < (8, 7)
    assert before_87 is (slug in {"ubuntu-20.04", "debian-11", "alinux-3", "centos-7"})
    assert ("ChallengeResponseAuthentication no\n" in content) is before_87
    assert "KbdInteractiveAuthentication no\n" in content


# --- idempotence -------------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("profile", ["baseline", "minimal"])
def test_planning_again_with_the_file_in_place_changes_nothing(slug: str, profile: str) -> None:
    request = Request(profile=profile)
    facts = load_facts(slug)
    first = plan_for(facts, request)
    assert first.files, "an unhardened host needs a file"
    assert first.needs_admin is True
    again = plan_for(applied(facts, first), request)
    assert again.files == []
    assert again.mode == first.mode
    assert again.wanted() == first.wanted()
    assert again.needs_admin is False  # nothing to write: root keeps what it has until then


@pytest.mark.parametrize("slug", SLUGS)
def test_a_changed_setting_rewrites_only_our_file(slug: str) -> None:
    facts = load_facts(slug)
    first = plan_for(facts)
    hardened = applied(facts, first)
    changed = plan_for(hardened, Request(overrides={"MaxAuthTries": "4"}))
    assert [c.path for c in changed.files] == [first.files[0].path]
    content = changed.files[0].content
    assert content is not None
    assert "MaxAuthTries 4\n" in content
    assert "MaxAuthTries 3\n" not in content
    if changed.mode == "inplace":
        assert content.count(sshd_config.BEGIN) == 1
        assert sshd_config.strip_block(content) == facts.main_config
