"""Proof (issue 23): `check --report FILE --format json|junit|hdf` on real hosts (Debian 11-13 and
a host without `Include`), before and after `apply`. Each report validates against its
published schema, and what it says is judged from the host itself: its own `sshd -T` and
`stat`, never the report's word alone.
"""

from __future__ import annotations

import json
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema

from hardening.host.facts import parse_sshd_T
from hardening.model.controls import load_catalogue
from tests.helpers.cli import must
from tests.hosts.hardening_case import Case

pytestmark = pytest.mark.host

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "evidence" / "schemas"
ENFORCED = {c.id for c in load_catalogue().controls if c.enforced}


def _json_report(case: Case, path: Path, code: int) -> dict[str, Any]:
    must(case.cli("check", "--report", str(path), "--format", "json"), code)
    report: dict[str, Any] = json.loads(path.read_text())
    schema = json.loads((ROOT / "docs" / "evidence-report.schema.json").read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(report)
    return report


def _host_sshd_T(case: Case) -> dict[str, str]:
    out = case.host.run("sshd -T -C user=ops,host=127.0.0.1,addr=127.0.0.1", check=True).stdout
    return parse_sshd_T(out)


def _judge_against_the_host(case: Case, host: dict[str, Any]) -> None:
    """Every sshd -T value and file mode the report shows is the host's own."""
    effective = _host_sshd_T(case)
    for control in host["controls"]:
        if not all(s.startswith("sshd -T: ") for s in control["source"].split("; ")):
            continue
        for source, actual in zip(
            control["source"].split("; "), control["actual"].split("; "), strict=True
        ):
            if "," not in source and not actual.startswith("("):
                assert effective[source.removeprefix("sshd -T: ")] == actual, control
    config = next(c for c in host["controls"] if c["id"] == "sshd-config-perms")
    stat = case.host.run("stat -c '%a %U:%G %n' /etc/ssh/sshd_config", check=True).stdout.strip()
    assert config["actual"] == stat


def test_reports_before_and_after_apply(case: Case, tmp_path: Path) -> None:
    before = _json_report(case, tmp_path / "before.json", 1)  # drift: check exits 1 as ever
    (host,) = before["hosts"]
    assert host["host"] == "127.0.0.1" and host["port"] == case.host.port
    assert host["error"] is None
    assert host["os"]["id"] == "debian"
    assert host["openssh"].startswith("OpenSSH_")
    status = {c["id"]: c["status"] for c in host["controls"]}
    assert status["permit-root-login"] == "fail"
    assert status["password-authentication"] == "fail"
    assert status["sshd-config-perms"] == "fail"  # Debian ships it 0644; apply sets 0600
    _judge_against_the_host(case, host)

    must(case.cli("apply"))
    after = _json_report(case, tmp_path / "after.json", 0)
    (host,) = after["hosts"]
    _judge_against_the_host(case, host)
    results = {c["id"]: c for c in host["controls"]}
    assert {cid for cid in ENFORCED if results[cid]["status"] != "pass"} == set(), results
    # A drop-in host's sshd_config gets mode 0600; without Include, apply rewrites it, and
    # every file the transaction writes is root:root 0600.
    assert results["sshd-config-perms"]["status"] == "pass"
    assert results["access-lists"]["status"] == "not enforced"
    assert results["host-private-key-perms"]["status"] == "pass"

    junit = tmp_path / "after.xml"
    must(case.cli("check", "--report", str(junit), "--format", "junit"))
    xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd")).validate(str(junit))
    suites = ET.parse(junit).getroot().findall("testsuite")
    assert len(suites) == 1 and suites[0].get("failures") == "0"
    assert len(suites[0].findall("testcase")) == len(host["controls"])

    hdf = tmp_path / "after.hdf.json"
    must(case.cli("check", "--report", str(hdf), "--format", "hdf"))
    schema = json.loads((SCHEMAS / "hdf-exec-json.json").read_text())
    data = json.loads(hdf.read_text())
    jsonschema.Draft7Validator(schema).validate(data)
    assert data["platform"]["target_id"] == "127.0.0.1"


def test_table_on_standard_output(case: Case) -> None:
    out = must(case.cli("check", "--report", "-"), 1)
    lines = out.stdout.splitlines()
    assert lines[0].startswith("hardened-ecs ") and " controls report, " in lines[0]
    start = lines.index(next(ln for ln in lines if ln.startswith(f"{case.prefix}  Debian")))
    assert lines[start + 1].split()[:3] == ["STATUS", "CONTROL", "CIS_DEBIAN12"]
    row = next(ln for ln in lines if " permit-root-login " in ln)
    assert row.split()[:4] == ["fail", "permit-root-login", "5.1.20", "sshd-06"]
    # The drift table of `check` still follows, as it did.
    assert f"{case.prefix}: drift in " in out.stdout


def test_file_modes_are_the_hosts(case: Case, tmp_path: Path) -> None:
    """A private host key made group-readable shows up, with the file named."""
    key = "/etc/ssh/ssh_host_ed25519_key"
    case.host.run(f"chmod 0640 {shlex.quote(key)}", check=True)
    try:
        report = _json_report(case, tmp_path / "r.json", 1)
    finally:
        case.host.run(f"chmod 0600 {shlex.quote(key)}", check=True)
    private = next(c for c in report["hosts"][0]["controls"] if c["id"] == "host-private-key-perms")
    assert private["status"] == "fail"
    assert f"640 root:root {key}" in private["actual"]


def test_apply_sets_the_modes_and_never_a_keys_content(case: Case, tmp_path: Path) -> None:
    """`plan` names each mode change, `apply` makes it, and a host key keeps its content.

    The private key stays 0600 here: one sshd refuses to load (too open) is not offered before
    the apply and would be after it, and the fresh login, pinned to the key first seen, would
    refuse the change (rolled back; README, "Where the values live")."""
    key, pub = "/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_ed25519_key.pub"
    # The public key a link to the real file (kept elsewhere): the file gets the mode.
    real = "/etc/ssh/keys/ed25519.pub"
    case.host.run(
        f"chown root:adm {key} && mkdir -p /etc/ssh/keys && mv {pub} {real} && "
        f"ln -s {real} {pub} && chmod 0664 {real}",
        check=True,
    )
    sums = f"sha256sum {key} {pub}"
    before = case.host.run(sums, check=True).stdout
    plan = must(case.cli("plan")).stdout
    assert f"{key} owner root:adm -> root:root" in plan
    assert f"{pub} mode 0664 -> 0644" in plan
    must(case.cli("apply"))
    stat = f"stat -L -c '%a %U:%G %n' /etc/ssh/sshd_config {key} {pub}"
    assert case.host.run(stat, check=True).stdout.splitlines() == [
        "600 root:root /etc/ssh/sshd_config",
        f"600 root:root {key}",
        f"644 root:root {pub}",
    ]
    assert case.host.run(f"readlink {pub}", check=True).stdout.strip() == real
    assert case.host.run(sums, check=True).stdout == before
    report = _json_report(case, tmp_path / "after.json", 0)
    status = {c["id"]: c["status"] for c in report["hosts"][0]["controls"]}
    assert {status[c] for c in ("sshd-config-perms", "host-private-key-perms")} == {"pass"}
    assert status["host-public-key-perms"] == "pass"
