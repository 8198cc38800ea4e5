"""scripts/drift_check.py, the nightly job's sshd half: which servers, which settings,
which command, and that drift on any server fails the run without leaking the key."""

from __future__ import annotations

import importlib.util
import json
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRIVATE_KEY = "\n".join(
    ["-----BEGIN OPENSSH PRIVATE KEY-----", "not-a-real-key", "-----END OPENSSH PRIVATE KEY-----"]
)


def load_script() -> ModuleType:
    path = ROOT / "scripts" / "drift_check.py"
    spec = importlib.util.spec_from_file_location("drift_check", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


drift_check = load_script()

OUTPUTS = {
    "adminUser": "ops",
    "servers": {
        "server-1": {"publicIp": "192.0.2.11", "hostKeyFingerprint": "SHA256:" + "A" * 43},
        "server-0": {"publicIp": "192.0.2.10"},
        "server-2": {"publicIp": None},  # not created yet: nothing to check
    },
}
CONFIG = {
    "hardened-ecs:sshPort": {"value": "22", "secret": False},
    "hardened-ecs:sshPrivateKey": {"value": PRIVATE_KEY, "secret": True},
    "hardened-ecs:hardening": {
        "value": '{"profile":"minimal","set":{"MaxAuthTries":"3"}}',
        "objectValue": {"profile": "minimal", "set": {"MaxAuthTries": "3"}},
        "secret": False,
    },
}


def test_targets_are_the_exported_servers_with_an_address() -> None:
    targets = drift_check.targets_from(OUTPUTS)
    assert [(t.name, t.host) for t in targets] == [
        ("server-0", "192.0.2.10"),
        ("server-1", "192.0.2.11"),
    ]
    assert targets[1].fingerprint == "SHA256:" + "A" * 43


def test_check_uses_the_stack_hardening_settings_and_pins_known_host_keys(tmp_path: Path) -> None:
    settings = drift_check.settings_from(OUTPUTS, CONFIG)
    assert (settings.profile, dict(settings.overrides)) == ("minimal", {"MaxAuthTries": "3"})
    pinned, unpinned = reversed(drift_check.targets_from(OUTPUTS))
    command = drift_check.check_command(pinned, settings, tmp_path / "id", tmp_path / "kh")
    assert command[1:4] == ["-m", "hardening", "check"]
    assert command[command.index("--user") + 1] == "ops"
    assert "MaxAuthTries=3" in command and "--profile" in command
    assert "--host-key-fingerprint" in command and "--accept-new-host-key" not in command
    fallback = drift_check.check_command(unpinned, settings, tmp_path / "id", tmp_path / "kh")
    assert "--accept-new-host-key" in fallback


def test_check_judges_with_the_stacks_placement(tmp_path: Path) -> None:
    # The values are where `up` put them (hardening.placement): the check is asked the same.
    target = drift_check.targets_from(OUTPUTS)[0]
    default = drift_check.check_command(
        target, drift_check.settings_from(OUTPUTS, CONFIG), tmp_path / "id", tmp_path / "kh"
    )
    assert default[default.index("--placement") + 1] == "dropin"
    hardening = {"profile": "minimal", "placement": "block"}
    config = {**CONFIG, "hardened-ecs:hardening": {"objectValue": hardening, "secret": False}}
    settings = drift_check.settings_from(OUTPUTS, config)
    block = drift_check.check_command(target, settings, tmp_path / "id", tmp_path / "kh")
    assert block[block.index("--placement") + 1] == "block"
    sys.path.insert(0, str(ROOT))
    from hardening.front.cli import build_parser

    assert build_parser().parse_args(block[3:]).placement == "block"


def test_drift_on_one_server_fails_the_run_and_the_key_stays_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "outputs.json").write_text(json.dumps(OUTPUTS))
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    hosts: list[str] = []

    def fake_run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        host = command[command.index("--host") + 1]
        hosts.append(host)
        return subprocess.CompletedProcess(command, 1 if host == "192.0.2.11" else 0)

    monkeypatch.setattr(drift_check.subprocess, "run", fake_run)
    work = tmp_path / "work"
    argv = [
        "--outputs",
        str(tmp_path / "outputs.json"),
        "--config",
        str(tmp_path / "config.json"),
        "--workdir",
        str(work),
    ]
    assert drift_check.main(argv) == 1
    assert hosts == ["192.0.2.10", "192.0.2.11"]
    identity = work / "id_drift"
    assert stat.S_IMODE(identity.stat().st_mode) == 0o600
    assert "not-a-real-key" not in capsys.readouterr().out

    monkeypatch.setattr(
        drift_check.subprocess,
        "run",
        lambda command, **_: subprocess.CompletedProcess(command, 0),
    )
    assert drift_check.main(argv) == 0


def test_a_stack_without_servers_is_reported_not_passed(tmp_path: Path) -> None:
    (tmp_path / "o.json").write_text(json.dumps({"adminUser": "ops"}))
    (tmp_path / "c.json").write_text(json.dumps(CONFIG))
    code = drift_check.main(
        [
            "--outputs",
            str(tmp_path / "o.json"),
            "--config",
            str(tmp_path / "c.json"),
            "--workdir",
            str(tmp_path / "w"),
        ]
    )
    assert code == 1


def test_hardening_cli_accepts_the_command_the_job_builds(tmp_path: Path) -> None:
    # The real CLI's parser must accept every flag the job passes.
    settings = drift_check.settings_from(OUTPUTS, CONFIG)
    command = drift_check.check_command(
        drift_check.targets_from(OUTPUTS)[1], settings, tmp_path / "id", tmp_path / "kh"
    )
    sys.path.insert(0, str(ROOT))
    from hardening.front.cli import build_parser

    args = build_parser().parse_args(command[3:])
    assert (args.action, args.host, args.user) == ("check", "192.0.2.11", "ops")


TYPED_SET = {
    "X11Forwarding": False,
    "PermitTunnel": True,
    "MaxAuthTries": 3.0,
    "LoginGraceTime": 30,
    "ClientAliveInterval": 7.5,
    "LogLevel": "VERBOSE",
}


def test_typed_yaml_values_become_sshd_values(tmp_path: Path) -> None:
    # `pulumi config --json` gives YAML booleans and numbers typed (numbers may be floats).
    config = {
        **CONFIG,
        "hardened-ecs:hardening": {"objectValue": {"set": TYPED_SET}, "secret": False},
    }
    settings = drift_check.settings_from(OUTPUTS, config)
    assert dict(settings.overrides) == {
        "X11Forwarding": "no",
        "PermitTunnel": "yes",
        "MaxAuthTries": "3",
        "LoginGraceTime": "30",
        "ClientAliveInterval": "7.5",
        "LogLevel": "VERBOSE",
    }
    command = drift_check.check_command(
        drift_check.targets_from(OUTPUTS)[0], settings, tmp_path / "id", tmp_path / "kh"
    )
    assert "X11Forwarding=no" in command and "MaxAuthTries=3" in command
    assert not any("False" in part or "3.0" in part for part in command)


def test_drift_check_maps_values_like_the_pulumi_provider() -> None:
    # The same rule as SshdHardening's provider, so drift is judged against what `up` applied.
    sys.path.insert(0, str(ROOT))
    import components.config_hardening
    import components.sshd_hardening.settings

    # One rule, one function: the provider, the config check and the drift job share it.
    assert drift_check.directive_text is vars(components.sshd_hardening.settings)["directive_text"]
    assert drift_check.directive_text is vars(components.config_hardening)["directive_text"]
    for value, text in [(False, "no"), (True, "yes"), (3.0, "3"), (3, "3"), ("VERBOSE", "VERBOSE")]:
        assert drift_check.directive_text(value) == text, value


def test_on_another_ssh_port_the_drift_check_connects_there_and_checks_the_port(
    tmp_path: Path,
) -> None:
    sys.path.insert(0, str(ROOT))
    from components.sshd_hardening.settings import request_overrides

    config = {**CONFIG, "hardened-ecs:sshPort": {"value": "2222", "secret": False}}
    settings = drift_check.settings_from(OUTPUTS, config)
    (server, *_) = drift_check.targets_from(OUTPUTS)
    command = drift_check.check_command(server, settings, tmp_path / "id", tmp_path / "kh")
    assert command[command.index("--port") + 1] == "2222"
    sets = [command[i + 1] for i, arg in enumerate(command) if arg == "--set"]
    # What the SshdHardening's refresh asks the engine for on that server, no more, no less.
    wanted = request_overrides(settings.overrides, 2222, moving=False)
    assert sorted(sets) == sorted(f"{k}={v}" for k, v in wanted.items())
    assert "Port=2222" in sets
    on_22 = drift_check.check_command(
        server, drift_check.settings_from(OUTPUTS, CONFIG), tmp_path / "id", tmp_path / "kh"
    )
    assert not [arg for arg in on_22 if arg.startswith("Port=")]


# --- the controls reports and the job summary ----------------------------------------------


def host_report(host: str, failing: dict[str, str]) -> str:
    """The JSON report `check --report` writes for a host whose controls all pass but
    `failing` (control id -> what the host showed)."""
    sys.path.insert(0, str(ROOT))
    from hardening.front import evidence_json
    from hardening.model.controls import load_catalogue
    from hardening.ops.evidence import Evidence, HostEvidence
    from hardening.planning.control_eval import FAIL, PASS, ControlResult

    results = tuple(
        ControlResult(
            c,
            FAIL if c.id in failing else PASS,
            "as the catalogue says",
            failing.get(c.id, "as expected"),
            "stat /etc/ssh/sshd_config",
        )
        for c in load_catalogue().controls
    )
    evidence = Evidence((HostEvidence(host, 22, "2026-12-07T03:17:00Z", results=results),))
    return evidence_json.render(evidence)


def run_job(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failing: dict[str, dict[str, str]],
    exit_codes: dict[str, int] | None = None,
    reports_written: bool = True,
) -> tuple[int, Path, str]:
    """drift_check.main as the workflow runs it; each server's `check` (faked) exits with
    `exit_codes` (default 0) and writes the report its --report names.
    Returns (status, reports directory, summary)."""
    (tmp_path / "outputs.json").write_text(json.dumps(OUTPUTS))
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    reports, summary = tmp_path / "controls", tmp_path / "summary.md"

    def fake_run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        host = command[command.index("--host") + 1]
        assert command[command.index("--format") + 1] == "json"
        if reports_written:
            Path(command[command.index("--report") + 1]).write_text(
                host_report(host, failing.get(host, {}))
            )
        return subprocess.CompletedProcess(command, (exit_codes or {}).get(host, 0))

    monkeypatch.setattr(drift_check.subprocess, "run", fake_run)
    work = tmp_path / "work"
    status = drift_check.main(
        [
            *("--outputs", str(tmp_path / "outputs.json")),
            *("--config", str(tmp_path / "config.json")),
            *("--workdir", str(work)),
            *("--reports", str(reports)),
            *("--summary", str(summary)),
        ]
    )
    return status, reports, summary.read_text()


def test_a_failing_control_fails_the_job_even_when_check_found_no_drift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sshd_config's mode is no directive we manage: `check` exits 0, the control still fails.
    failing = {"192.0.2.11": {"sshd-config-perms": "0644 root:root /etc/ssh/sshd_config"}}
    status, _, summary = run_job(tmp_path, monkeypatch, failing)
    assert status == 1
    assert "#### Failing controls" in summary
    [row] = [line for line in summary.splitlines() if "`sshd-config-perms`" in line]
    assert row.startswith("| server-1 | `sshd-config-perms` | sshd_config is owned by root")
    assert "cis_ubuntu2404:5.1.1" in row and "0644 root:root /etc/ssh/sshd_config |" in row
    assert "- **server-0** (192.0.2.10:22): " in summary
    assert "; failed" not in summary and "server-0 |" not in summary


def test_the_reports_are_kept_per_server_as_json_and_junit_and_hold_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = {"192.0.2.10": {"permit-root-login": "yes"}}
    status, reports, _ = run_job(tmp_path, monkeypatch, failing)
    assert status == 1
    # The paths the workflow uploads: $RUNNER_TEMP/controls/*.json and *.junit.xml.
    assert sorted(p.name for p in reports.iterdir()) == [
        "server-0.json",
        "server-0.junit.xml",
        "server-1.json",
        "server-1.junit.xml",
    ]
    junit = ET.fromstring((reports / "server-0.junit.xml").read_text())
    [suite] = junit.iter("testsuite")
    assert suite.get("name") == "192.0.2.10:22" and suite.get("failures") == "1"
    [failure] = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failure.get("name", "").startswith("permit-root-login: ")
    for path in reports.iterdir():
        assert "not-a-real-key" not in path.read_text()


def test_every_control_passing_passes_the_job_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, _, summary = run_job(tmp_path, monkeypatch, {})
    assert status == 0
    assert summary.endswith("No failing control.\n")
    assert "Failing controls" not in summary


def test_a_check_that_wrote_no_report_fails_the_job_and_the_summary_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, reports, summary = run_job(
        tmp_path, monkeypatch, {}, exit_codes={"192.0.2.10": 3}, reports_written=False
    )
    assert status == 1
    assert "- **server-0**: no report (check exited 3)" in summary
    assert "- **server-1**: no report (check exited 0)" in summary
    assert "No failing control." not in summary
    assert list(reports.iterdir()) == []


def test_what_a_host_shows_cannot_break_out_of_the_summary_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown = "yes | <img src=x onerror=alert(1)>\n# heading"
    _, _, summary = run_job(tmp_path, monkeypatch, {"192.0.2.11": {"banner": shown}})
    [row] = [line for line in summary.splitlines() if "`banner`" in line]
    assert row.count("|") == 7  # the table's own six cells, no more
    assert "<img" not in summary and "&lt;img" in row and "\n# heading" not in summary
