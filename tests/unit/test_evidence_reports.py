"""The evidence reports validate against their published schemas and say the same thing.

JSON: our docs/evidence-report.schema.json; JUnit: Jenkins' junit-10.xsd; HDF: MITRE's
exec-json schema (both vendored in tests/evidence/schemas, README.md there says from where).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema

from hardening.front import evidence_hdf, evidence_json, evidence_junit, evidence_table
from hardening.model.version import tool_version
from hardening.ops.evidence import Evidence, HostEvidence, host_evidence, unreachable
from tests.facts import SLUGS, load_facts

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "evidence" / "schemas"
AT = "2026-12-07T16:00:00Z"


def _fleet() -> Evidence:
    hosts = [host_evidence(f"{slug}.example", 22, load_facts(slug), AT) for slug in SLUGS]
    hosts.append(unreachable("203.0.113.9", 2222, "connection refused", AT))
    return Evidence(tuple(hosts), generated=AT)


def _one(slug: str = "debian-12") -> Evidence:
    return Evidence((host_evidence("192.0.2.10", 22, load_facts(slug), AT),), generated=AT)


def _json_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((ROOT / "docs" / "evidence-report.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _hdf_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / "hdf-exec-json.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


# --- JSON -----------------------------------------------------------------------------------


@pytest.mark.parametrize("evidence", [_one(), _fleet()], ids=["one host", "fleet"])
def test_json_report_validates_against_its_schema(evidence: Evidence) -> None:
    _json_validator().validate(json.loads(evidence_json.render(evidence)))


def test_json_report_reads_back_as_the_evidence_it_was_written_from() -> None:
    # scripts/drift_check.py renders JUnit and its summary from the JSON report a check wrote.
    fleet = _fleet()
    again = evidence_json.parse(evidence_json.render(fleet))
    assert again == fleet
    assert evidence_junit.render(again) == evidence_junit.render(fleet)


def test_json_report_of_a_control_this_version_lacks_is_refused() -> None:
    report = json.loads(evidence_json.render(_one()))
    report["hosts"][0]["controls"][0]["id"] = "no-such-control"
    with pytest.raises(ValueError, match="no-such-control is not in this version's catalogue"):
        evidence_json.parse(json.dumps(report))


def test_json_schema_refuses_what_the_report_must_not_hold() -> None:
    report = json.loads(evidence_json.render(_one()))
    validator = _json_validator()
    breaks: tuple[Callable[[dict[str, Any]], object], ...] = (
        lambda r: r["hosts"][0]["controls"][0].update(status="nope"),
        lambda r: r["hosts"][0].pop("openssh"),
        lambda r: r.update(generated="yesterday"),
        lambda r: r["hosts"][0]["controls"][0].pop("source"),
    )
    for break_it in breaks:
        broken = copy.deepcopy(report)
        break_it(broken)
        assert not validator.is_valid(broken)


def test_json_report_carries_tool_os_openssh_time_and_each_control() -> None:
    report = json.loads(evidence_json.render(_one()))
    assert report["tool"] == {"name": "hardened-ecs", "version": tool_version()}
    assert tool_version() == "0.1.0"  # pyproject.toml's, from a source checkout
    assert report["generated"] == AT
    host = report["hosts"][0]
    assert host["os"] == {"name": "Debian GNU/Linux 12 (bookworm)", "id": "debian", "version": "12"}
    assert (host["openssh"], host["checked_at"], host["error"]) == ("OpenSSH_9.2", AT, None)
    root = next(c for c in host["controls"] if c["id"] == "permit-root-login")
    assert root == {
        "id": "permit-root-login",
        "title": "sshd PermitRootLogin is no",
        "level": 1,
        "ids": {
            "cis_ubuntu2404": "5.1.20",
            "cis_debian12": "5.1.20",
            "cis_rhel9": "5.1.20",
            "cis_alinux3": "5.2.10",
            "devsec": "sshd-06",
        },
        "status": "fail",
        "expected": "no",
        "actual": "without-password",
        "source": "sshd -T: permitrootlogin",
        "why": "",
    }
    assert sum(host["summary"].values()) == len(host["controls"])
    assert set(report["sources"]) == {
        "cis_ubuntu2404",
        "cis_debian12",
        "cis_rhel9",
        "cis_alinux3",
        "devsec",
    }


# --- JUnit ----------------------------------------------------------------------------------


def _junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd"))


@pytest.mark.parametrize("evidence", [_one(), _fleet()], ids=["one host", "fleet"])
def test_junit_report_validates_against_the_jenkins_xsd(evidence: Evidence) -> None:
    _junit_schema().validate(evidence_junit.render(evidence))


def test_junit_xsd_refuses_a_testcase_without_a_name() -> None:
    root = ET.fromstring(evidence_junit.render(_one()))
    case = root.find("testsuite/testcase")
    assert case is not None
    del case.attrib["name"]
    assert not _junit_schema().is_valid(ET.tostring(root, "unicode"))


def test_junit_one_testsuite_per_host_one_testcase_per_control() -> None:
    evidence = _fleet()
    root = ET.fromstring(evidence_junit.render(evidence))
    suites = root.findall("testsuite")
    assert len(suites) == len(evidence.hosts)
    for suite, host in zip(suites, evidence.hosts, strict=True):
        assert suite.get("hostname") == host.host
        if host.error:
            assert suite.get("errors") == "1"
            assert [e.get("message") for e in suite.iter("error")] == [host.error]
            continue
        cases = suite.findall("testcase")
        assert len(cases) == len(host.results) == int(suite.get("tests", "0"))
        assert (
            len(suite.findall("testcase/failure"))
            == host.counts["fail"]
            == int(suite.get("failures", "-1"))
        )
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert props["openssh"] == host.openssh and props["os"] == host.os
        assert props["tool"] == f"hardened-ecs {tool_version()}"
    deb = suites[SLUGS.index("debian-12")]
    root_case = next(
        c for c in deb.findall("testcase") if c.get("name", "").startswith("permit-root-login:")
    )
    failure = root_case.find("failure")
    assert failure is not None
    assert failure.get("message") == "without-password (expected no)"
    assert "cis_debian12:5.1.20" in root_case.get("classname", "")


# --- HDF ------------------------------------------------------------------------------------


@pytest.mark.parametrize("evidence", [_one(), _fleet()], ids=["one host", "fleet"])
def test_hdf_report_validates_against_mitres_schema(evidence: Evidence) -> None:
    _hdf_validator().validate(json.loads(evidence_hdf.render(evidence)))


def test_hdf_schema_refuses_a_bad_result_status() -> None:
    report: dict[str, Any] = json.loads(evidence_hdf.render(_one()))
    report["profiles"][0]["controls"][0]["results"][0]["status"] = "not enforced"
    assert not _hdf_validator().is_valid(report)


def test_hdf_maps_the_four_statuses() -> None:
    report = json.loads(evidence_hdf.render(_one()))
    assert report["platform"] == {"name": "debian", "release": "12", "target_id": "192.0.2.10"}
    controls = {c["id"]: c for c in report["profiles"][0]["controls"]}
    assert controls["permit-root-login"]["results"][0]["status"] == "failed"
    assert controls["use-pam"]["results"][0]["status"] == "passed"
    lists = controls["access-lists"]  # not enforced: failed, with the reason as a waiver
    assert lists["results"][0]["status"] == "failed"
    assert "opt-in" in lists["waiver_data"]["justification"]
    assert controls["permit-root-login"]["tags"]["cis_debian12"] == "5.1.20"


def test_hdf_not_applicable_is_skipped_with_impact_0() -> None:
    facts = load_facts("debian-12")
    old = dataclasses.replace(facts, file_modes=None)
    evidence = Evidence((host_evidence("192.0.2.10", 22, old, AT),), generated=AT)
    controls = {
        c["id"]: c for c in json.loads(evidence_hdf.render(evidence))["profiles"][0]["controls"]
    }
    config = controls["sshd-config-perms"]
    assert (config["impact"], config["results"][0]["status"]) == (0.0, "skipped")


# --- the terminal table ---------------------------------------------------------------------


def test_table_shows_each_control_with_the_hosts_own_cis_ids_and_a_summary() -> None:
    text = evidence_table.render(_fleet())
    lines = text.splitlines()
    assert lines[0] == f"hardened-ecs {tool_version()} controls report, {AT}"
    deb = next(i for i, ln in enumerate(lines) if ln.startswith("debian-12.example:22"))
    assert lines[deb] == f"debian-12.example:22  Debian GNU/Linux 12 (bookworm)  OpenSSH_9.2  {AT}"
    assert lines[deb + 1].split() == [
        "STATUS",
        "CONTROL",
        "CIS_DEBIAN12",
        "/",
        "DEV-SEC",
        "EXPECTED",
        "ACTUAL",
    ]
    row = next(ln for ln in lines[deb:] if "permit-root-login" in ln)
    assert row.split() == [
        "fail",
        "permit-root-login",
        "5.1.20",
        "sshd-06",
        "no",
        "without-password",
    ]
    rocky = next(i for i, ln in enumerate(lines) if ln.startswith("rocky-9.example:22"))
    assert "CIS_RHEL9" in lines[rocky + 1]
    assert "203.0.113.9:2222  ?  ?" in text and "  not checked: connection refused" in text


def test_summary_line_per_host() -> None:
    host: HostEvidence = _one().hosts[0]
    line = evidence_table.summary_line(host)
    assert line.startswith(
        # sshd_config 0644 and umac-64 fail (apply sets 0600, drops every weak MAC)
        "192.0.2.10:22: 19 pass, 15 fail, 0 not applicable, 4 not enforced; failed: "
    )
    assert "permit-root-login" in line
    down = unreachable("203.0.113.9", 22, "timed out", AT)
    assert evidence_table.summary_line(down) == "203.0.113.9:22: not checked (timed out)"


# --- check --report: what is refused before connecting ---------------------------------------


def test_report_to_stdout_with_json_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from hardening.front import cli

    argv = ["check", "--host", "192.0.2.1", "--user", "root", "--identity", "/dev/null"]
    assert cli.main([*argv, "--report", "-", "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["error"] == "--report -: standard output already carries --json; give a file name"


def test_report_path_problems(tmp_path: Path) -> None:
    from hardening.front.evidence_output import report_path_problem

    assert report_path_problem("-") is None
    assert report_path_problem(str(tmp_path / "r.xml")) is None
    assert not (tmp_path / "r.xml").exists()  # the probe leaves nothing behind
    assert list(tmp_path.iterdir()) == []
    assert (
        report_path_problem(str(tmp_path))
        == f"--report {tmp_path}: is a directory; give a file name"
    )
    missing = tmp_path / "no" / "r.xml"
    assert report_path_problem(str(missing)) == (
        f"--report {missing}: no directory {missing.parent}; create it or choose another path"
    )
