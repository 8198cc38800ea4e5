"""make_plan over the nine distributions: mode, files, idempotence, validation file, drift."""

from __future__ import annotations

import dataclasses

import pytest

from hardening import sshd_config
from hardening.desired import Request
from hardening.facts import DROPIN_DIR, MAIN_CONFIG, HostFacts
from hardening.plan import (
    DROPIN_PATH,
    SYSCONFIG_SSHD,
    FileChange,
    Setting,
    cmdline_overrides,
    effective_matches,
    staged_path,
)
from tests.facts import (
    EXPECTED,
    SLUGS,
    WITH_INCLUDE,
    WITHOUT_INCLUDE,
    applied,
    load_facts,
    plan_for,
)

STAGED_DROPIN = "/etc/ssh/sshd_config.d/.00-hardened-ecs.conf.hardened-ecs-new"


def _with_dropins(facts: HostFacts, extra: dict[str, str]) -> HostFacts:
    """Facts with more files in sshd_config.d (name -> content)."""
    return dataclasses.replace(facts, dropins={**facts.dropins, **extra})


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


# --- needs_admin, drift and what "compliant" means ---------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_needs_admin_only_for_root_losing_its_login(slug: str) -> None:
    facts = load_facts(slug)
    assert plan_for(facts, connected_user="root").needs_admin is True
    assert plan_for(facts, connected_user="ops").needs_admin is False
    keep_root = Request(profile="minimal", overrides={"PermitRootLogin": "prohibit-password"})
    assert plan_for(facts, keep_root, connected_user="root").needs_admin is False


def test_drift_on_recorded_debian_12() -> None:
    plan = plan_for(load_facts("debian-12"))
    drift = {s.directive: (s.wanted, s.effective) for s in plan.drift}
    assert set(drift) == {
        "PermitRootLogin",
        "PasswordAuthentication",
        "AuthenticationMethods",
        "MaxAuthTries",
        "LoginGraceTime",
        "MaxStartups",
        "ClientAliveInterval",
        "X11Forwarding",
        "AllowTcpForwarding",
        "AllowAgentForwarding",
        "AllowStreamLocalForwarding",
        "LogLevel",
        "Compression",
        "PrintLastLog",
        "KexAlgorithms",
        "Ciphers",
        "MACs",
        "HostKeyAlgorithms",
    }
    assert drift["PasswordAuthentication"] == ("no", "yes")  # cloud-init's drop-in
    assert drift["LoginGraceTime"] == ("30", "120")
    assert drift["PermitRootLogin"] == ("no", "without-password")
    compliant = {s.directive for s in plan.settings if s.compliant}
    assert {"KbdInteractiveAuthentication", "PubkeyAuthentication", "UseDNS"} <= compliant
    assert not plan.compliant


@pytest.mark.parametrize("slug", SLUGS)
def test_effective_equal_to_wanted_is_compliant(slug: str) -> None:
    facts = load_facts(slug)
    plan = plan_for(facts)
    wanted = plan.wanted()
    # What `sshd -T` prints after the apply: lower-case keys, LogLevel upper-case.
    effective = {**facts.effective, **{k.lower(): v for k, v in wanted.items()}}
    effective["loglevel"] = wanted["LogLevel"].upper()
    after = plan_for(dataclasses.replace(applied(facts, plan), effective=effective))
    assert after.compliant
    assert after.drift == []


@pytest.mark.parametrize(
    ("directive", "wanted", "effective"),
    [
        ("LoginGraceTime", "2m", "120"),
        ("ClientAliveInterval", "1h30m", "5400"),
        ("LogLevel", "verbose", "VERBOSE"),
        ("Compression", "delayed", "yes"),
        ("AllowUsers", "ops  admin", "ops admin"),
        ("MaxAuthTries", "03", "3"),
    ],
)
def test_effective_matches_canonical_forms(directive: str, wanted: str, effective: str) -> None:
    assert effective_matches(directive, wanted, effective) is True
    assert Setting(directive, wanted, effective).compliant is True


def test_effective_absent_or_different_is_drift() -> None:
    assert effective_matches("AllowUsers", "ops", None) is False
    assert effective_matches("MaxAuthTries", "3", "6") is False
    assert effective_matches("PasswordAuthentication", "no", "yes") is False


# Canonical forms below were read from real `sshd -T` (bullseye 8.4 and trixie 10.0 chroots).
@pytest.mark.parametrize("slug", ["debian-11", "debian-12", "debian-13"])
def test_prohibit_password_matches_what_sshd_prints(slug: str) -> None:
    facts = load_facts(slug)  # default PermitRootLogin prohibit-password, printed without-password
    request = Request(profile="minimal", overrides={"PermitRootLogin": "prohibit-password"})
    setting = next(s for s in plan_for(facts, request).settings if s.key == "permitrootlogin")
    assert setting.effective == "without-password"
    assert setting.compliant


@pytest.mark.parametrize("directive", ["AllowTcpForwarding", "AllowStreamLocalForwarding"])
def test_forwarding_all_matches_what_sshd_prints(directive: str) -> None:
    facts = load_facts("debian-12")  # both print `yes` (the default)
    request = Request(profile="minimal", overrides={directive: "all"})
    setting = next(s for s in plan_for(facts, request).settings if s.directive == directive)
    assert setting.effective == "yes"
    assert setting.compliant


def test_max_startups_single_number_matches_what_sshd_prints() -> None:
    facts = load_facts("debian-12")
    facts = dataclasses.replace(facts, effective={**facts.effective, "maxstartups": "10:30:10"})
    request = Request(profile="minimal", overrides={"MaxStartups": "10"})
    setting = next(s for s in plan_for(facts, request).settings if s.directive == "MaxStartups")
    assert setting.compliant
