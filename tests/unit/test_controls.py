"""The controls catalogue agrees with the profiles, and the evaluator over recorded facts."""

from __future__ import annotations

import dataclasses
import json
from importlib import resources
from typing import Any

import pytest

from hardening.host.facts import parse_facts
from hardening.model.controls import CatalogueError, load_catalogue, parse_catalogue
from hardening.model.profiles import CRYPTO, profile_settings
from hardening.planning.control_eval import (
    FAIL,
    NOT_APPLICABLE,
    NOT_ENFORCED,
    PASS,
    ControlResult,
    HostView,
    evaluate,
)
from tests.facts import SLUGS, applied, facts_text, load_facts, plan_for

CATALOGUE = load_catalogue()
CONTROLS = {c.id: c for c in CATALOGUE.controls}


def _hardened_view(slug: str) -> HostView:
    """What the host would show after `apply` with the default request: the plan's values in
    `sshd -T`, and the modes and owners it sets."""
    facts = load_facts(slug)
    plan = plan_for(facts)
    effective = dict(facts.effective)
    effective.update({s.key: s.wanted for s in plan.settings})
    return HostView(effective, applied(facts, plan).file_modes)


def _by_id(results: list[ControlResult]) -> dict[str, ControlResult]:
    return {r.control.id: r for r in results}


# --- the catalogue --------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["cis_ubuntu2404", "cis_debian12", "cis_rhel9"])
def test_every_cis_5_1_control_is_catalogued_once(source: str) -> None:
    ids = [c.ids[source] for c in CATALOGUE.controls if source in c.ids]
    assert sorted(ids) == sorted(f"5.1.{n}" for n in range(1, 23))


def test_alinux3_section_5_2_is_catalogued_but_its_crypto_policy_rule() -> None:
    ids = {c.ids["cis_alinux3"] for c in CATALOGUE.controls if "cis_alinux3" in c.ids}
    # 5.2.20 (the system-wide crypto policy is not overridden) is about crypto-policies, which
    # the engine passes through; ssh-audit checks the algorithms sshd offers.
    assert ids == {f"5.2.{n}" for n in range(1, 20)}


def test_every_source_says_where_it_was_looked_up() -> None:
    for name, source in CATALOGUE.sources.items():
        assert source["benchmark"] and source["from"], name


def test_enforced_controls_read_only_what_baseline_sets() -> None:
    """`enforced` means baseline writes every sshd value the control reads, and apply sets
    the mode and owner of every file it reads (planning/file_modes.py)."""
    baseline = {k.lower() for k in [*profile_settings("baseline"), *CRYPTO]}
    for control in CATALOGUE.controls:
        if control.enforced:
            for check in control.checks:
                assert check.read in ("sshd", "file"), control.id
                if check.read == "sshd":
                    assert set(check.keys) <= baseline, control.id


@pytest.mark.parametrize("slug", SLUGS)
def test_baseline_passes_every_control_it_enforces(slug: str) -> None:
    for result in evaluate(_hardened_view(slug)):
        if result.control.enforced:
            assert result.status == PASS, (slug, result)
        else:
            assert result.status in (PASS, NOT_ENFORCED, NOT_APPLICABLE), (slug, result)


def test_each_control_not_enforced_is_one_baseline_leaves_failing_somewhere() -> None:
    """A control marked "not enforced" that baseline passes everywhere should be enforced."""
    failing: set[str] = set()
    for slug in SLUGS:
        failing |= {r.control.id for r in evaluate(_hardened_view(slug)) if r.status != PASS}
    not_enforced = {c.id for c in CATALOGUE.controls if not c.enforced}
    assert not_enforced - failing == set()


def _raw() -> dict[str, Any]:
    text = resources.files("hardening.model").joinpath("control_catalogue.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def test_a_control_not_enforced_must_say_why() -> None:
    data = _raw()
    data["controls"][0] = {**data["controls"][0], "enforced": False, "why": ""}
    with pytest.raises(CatalogueError, match="sshd-config-perms is not enforced: say why"):
        parse_catalogue(data)


def test_unknown_sources_and_checks_are_refused() -> None:
    data = _raw()
    data["controls"][0] = {**data["controls"][0], "ids": {"cis_nope": "1"}}
    with pytest.raises(CatalogueError, match="unknown sources"):
        parse_catalogue(data)
    data = _raw()
    data["controls"][5]["checks"] = [{"read": "sshd", "keys": ["ciphers"], "test": "nope"}]
    with pytest.raises(CatalogueError, match="ciphers-cis: bad check"):
        parse_catalogue(data)


# --- the evaluator over recorded facts ----------------------------------------------------


def test_pristine_debian_12_as_recorded() -> None:
    got = _by_id(evaluate(HostView.of(load_facts("debian-12"))))
    root = got["permit-root-login"]
    assert (root.status, root.expected, root.actual, root.source) == (
        FAIL,
        "no",
        "without-password",
        "sshd -T: permitrootlogin",
    )
    config = got["sshd-config-perms"]
    assert config.status == FAIL  # apply sets it 0600
    assert config.actual == "644 root:root /etc/ssh/sshd_config"
    assert config.source == "stat /etc/ssh/sshd_config"
    assert got["host-private-key-perms"].status == PASS
    assert got["max-startups"].status == FAIL  # 10:30:100
    assert got["client-alive"].actual == "0; 3"
    assert got["access-lists"].actual == "(none set)"
    assert got["use-pam"].status == PASS


def test_rhel_private_host_keys_pass_as_0640_root_ssh_keys() -> None:
    got = _by_id(evaluate(HostView.of(load_facts("rocky-9"))))
    assert got["host-private-key-perms"].status == PASS
    assert "640 root:ssh_keys /etc/ssh/ssh_host_ed25519_key" in got["host-private-key-perms"].actual
    assert got["sshd-config-perms"].status == PASS  # RHEL ships it 0600


def test_sha1_key_exchange_of_centos_7_fails_the_cis_kex_control() -> None:
    result = _by_id(evaluate(HostView.of(load_facts("centos-7"))))["kex-cis"]
    assert result.status == FAIL
    assert "diffie-hellman-group14-sha1" in result.actual


def test_modes_too_open_or_wrong_owner_fail() -> None:
    view = HostView.of(load_facts("debian-12"))
    modes = dict(view.file_modes or {})
    modes["/etc/ssh/ssh_host_rsa_key"] = ("640", "root", "root")  # 0640 only for ssh_keys
    modes["/etc/ssh/ssh_host_rsa_key.pub"] = ("644", "ops", "root")
    got = _by_id(evaluate(dataclasses.replace(view, file_modes=modes)))
    assert got["host-private-key-perms"].status == FAIL
    assert got["host-public-key-perms"].status == FAIL


def test_facts_without_file_modes_make_the_file_controls_not_applicable() -> None:
    text = facts_text("debian-12")
    start = text.index("@@ file-modes")
    old = parse_facts(text[:start] + text[text.index("@@ service") :])
    assert old.file_modes is None
    got = _by_id(evaluate(HostView.of(old)))
    for cid in ("sshd-config-perms", "host-private-key-perms", "host-public-key-perms"):
        assert got[cid].status == NOT_APPLICABLE
        assert got[cid].actual == "(file modes not read from this host)"


def test_a_key_this_sshd_does_not_print() -> None:
    view = _hardened_view("debian-12")
    effective = {k: v for k, v in view.effective.items() if k not in ("disableforwarding",)}
    effective.pop("gssapiauthentication")
    got = _by_id(evaluate(dataclasses.replace(view, effective=effective)))
    # Built without GSSAPI: it cannot be on. DisableForwarding before OpenSSH 7.4: unknown.
    assert got["gssapi"].status == PASS
    assert got["disable-forwarding"].status == NOT_APPLICABLE
    assert got["disable-forwarding"].actual == "(not printed by this sshd: disableforwarding)"


def test_sshd_T_failing_fails_every_sshd_control() -> None:
    view = dataclasses.replace(_hardened_view("debian-12"), sshd_error="line 3: Bad option")
    got = _by_id(evaluate(view))
    assert got["permit-root-login"].status == FAIL
    assert got["permit-root-login"].actual == "sshd -T failed: line 3: Bad option"


def test_access_lists_pass_with_any_of_them() -> None:
    view = _hardened_view("debian-12")
    got = _by_id(
        evaluate(dataclasses.replace(view, effective={**view.effective, "allowgroups": "ops"}))
    )
    assert (got["access-lists"].status, got["access-lists"].actual) == (PASS, "allowgroups ops")


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("10:30:60", PASS),
        ("5:50:20", PASS),
        ("10:30:100", FAIL),
        ("11:30:60", FAIL),
        ("10:20:60", FAIL),
        ("10", PASS),
        ("60", FAIL),
        ("10:30", FAIL),
    ],
)
def test_max_startups(value: str, status: str) -> None:
    view = _hardened_view("debian-12")
    got = _by_id(
        evaluate(dataclasses.replace(view, effective={**view.effective, "maxstartups": value}))
    )
    assert got["max-startups"].status == status
