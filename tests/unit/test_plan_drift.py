"""make_plan over the nine distributions: needs_admin, drift and what "compliant" means."""

from __future__ import annotations

import dataclasses

import pytest

from hardening.model.desired import Request
from hardening.planning.plan import DirectiveValues, effective_matches
from tests.facts import SLUGS, applied, load_facts, plan_for

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
    assert DirectiveValues(directive, wanted, effective).compliant is True


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
