"""What on the host would make a port move fail, found before anything changes (issue 21 items
2 and 4): the facts script's `ports`, `selinux` and `firewall` sections parsed, and
planning/port_guards.py's answer over the cases in port_guard_cases/ (README.md there)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from hardening.host.facts import HostFacts, facts_script, parse_facts
from hardening.host.port_facts import Listener, port_ranges
from hardening.model.desired import Request, wanted_port
from hardening.planning.port_guards import current_ports, is_a_move, port_guards
from tests.facts import SLUGS, facts_text, load_facts

CASES_DIR = Path(__file__).resolve().parent / "port_guard_cases"
CASES = {p.stem: tomllib.loads(p.read_text()) for p in sorted(CASES_DIR.glob("*.toml"))}


def with_port_sections(slug: str, ports: str, selinux: str, firewall: str) -> HostFacts:
    """The distribution's facts as the script prints them when the request moves the port
    (recorded and constructed without a move, they hold the three sections empty)."""
    empty = "\n@@ ports\n\n@@ selinux\n\n@@ firewall\n"
    text = facts_text(slug)
    assert text.count(empty) == 1, slug
    filled = f"\n@@ ports\n{ports.strip()}\n\n@@ selinux\n{selinux.strip()}\n"
    filled += f"\n@@ firewall\n{firewall.strip()}\n"
    return parse_facts(text.replace(empty, filled))


def _holds(found: tuple[str, ...], wanted: list[list[str]]) -> None:
    assert len(found) == len(wanted), found
    for text, parts in zip(found, wanted, strict=True):
        for part in parts:
            assert part in text, (part, text)


@pytest.mark.parametrize("name", CASES)
def test_the_guards_answer_each_case(name: str) -> None:
    case: dict[str, Any] = CASES[name]
    facts = with_port_sections(case["slug"], case["ports"], case["selinux"], case["firewall"])
    assert is_a_move(facts, case["wanted"])
    guards = port_guards(facts, case["wanted"])
    _holds(guards.refusals, case["refusals"])
    assert guards.label == (case["label"] or None)
    _holds(guards.warnings, case["warnings"])


def test_the_sections_parse_into_listeners_selinux_and_the_firewall() -> None:
    case = CASES["selinux_enforcing_rocky9"]
    ports = with_port_sections("rocky-9", case["ports"], case["selinux"], "").ports
    assert ports is not None
    assert ports.listeners == (
        Listener(("0.0.0.0", 22), 1029, "sshd"),
        Listener(("::", 22), 1029, "sshd"),
        Listener(("127.0.0.1", 25), 1101, "master"),
    )
    assert ports.selinux == "enforcing" and ports.semanage
    assert ports.labels["ssh_port_t"] == ((22, 22),)
    assert ports.labels["unreserved_port_t"] == ((61000, 65535), (1024, 32767))
    assert ports.labels["http_cache_port_t"][-1] == (10001, 10010)
    fw = with_port_sections(
        "rocky-9", "", "mode permissive", CASES["firewalld_port_open"]["firewall"]
    )
    assert fw.ports is not None
    assert fw.ports.firewalld and fw.ports.firewalld_zone == "public"
    assert fw.ports.firewalld_ports == ("2200-2299/tcp", "53/udp")
    assert fw.ports.firewalld_services == ("ssh",)
    assert not fw.ports.ufw_active and fw.ports.nft == "" and fw.ports.iptables == ()
    ufw = with_port_sections(
        "ubuntu-24.04", "", "mode disabled", CASES["ufw_active_ubuntu"]["firewall"]
    )
    assert ufw.ports is not None and ufw.ports.ufw_active
    assert "OpenSSH                    ALLOW       Anywhere" in ufw.ports.ufw_rules
    assert ufw.ports.nft.startswith("table ip filter {")


def test_a_line_that_is_not_a_listener_is_skipped() -> None:
    facts = with_port_sections(
        "debian-12", "tcp zz:0016 1 x\ngarbage\ntcp 00000000:0016", "mode disabled", ""
    )
    assert facts.ports is not None and facts.ports.listeners == ()


def test_port_ranges_read_every_tool_s_spelling() -> None:
    assert port_ranges("80, 81, 1024-32767") == ((80, 80), (81, 81), (1024, 32767))
    assert port_ranges("22,2222") == ((22, 22), (2222, 2222))
    assert port_ranges("6000:6007 OpenSSH") == ((6000, 6007),)


@pytest.mark.parametrize("slug", SLUGS)
def test_facts_without_the_sections_say_not_gathered(slug: str) -> None:
    # Recorded and constructed facts come from a script asked for no port move: the three
    # sections are there, empty.
    assert load_facts(slug).ports is None


def test_the_script_reads_the_port_facts_only_when_asked() -> None:
    assert "PORT_GUARDS=''\n" in facts_script("ops")
    assert "PORT_GUARDS=yes\n" in facts_script("ops", port_guards=True)


@pytest.mark.parametrize("slug", SLUGS)
def test_the_port_sshd_has_is_no_move(slug: str) -> None:
    facts = load_facts(slug)
    assert 22 in current_ports(facts)
    assert not is_a_move(facts, 22)
    assert is_a_move(facts, 2222)
    assert not is_a_move(facts, None)


def test_the_wanted_port_is_the_request_s_port_in_any_spelling() -> None:
    assert wanted_port(Request(overrides={"Port": "2222"})) == 2222
    assert wanted_port(Request(overrides={"port": " 0022 "})) == 22
    assert wanted_port(Request(overrides={"MaxAuthTries": "3"})) is None
    assert wanted_port(Request(overrides={"Port": "0"})) is None  # validation refuses it


def test_the_listener_sshd_itself_holds_is_not_another_service() -> None:
    # sshd already on 2222 besides 22 (a ListenAddress the files hold): no refusal.
    ports = "tcp 00000000:0016 1029 sshd\ntcp 00000000:08AE 1029 sshd"
    facts = with_port_sections("rocky-9", ports, "mode disabled", "")
    assert port_guards(facts, 2222).refusals == ()
