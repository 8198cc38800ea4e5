"""The offline gate (`make validate` -> scripts/validate.py) end to end: the real program
under mocks for every Pulumi.*.yaml, then the policy pack's rules, in a copy of the project."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# What a copy of the project leaves out: environments, caches, history, tests.
SKIP = shutil.ignore_patterns(
    "venv",
    ".git",
    "__pycache__",
    "*.pyc",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "tests",
    "bench",
    ".pulumi-state",
)


def run_gate(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(project / "scripts" / "validate.py"), *args],
        cwd=project,
        capture_output=True,
        text=True,
    )


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=SKIP)
    return copy


def add_stack(project: Path, name: str, **config: object) -> Path:
    """A new stack file: the dev stack's config with some keys changed."""
    doc = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())
    doc["config"].update({f"hardened-ecs:{k}": v for k, v in config.items()})
    path = project / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def lines_for(output: str, stack_file: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(f"{stack_file}: ")]


def test_committed_stacks_pass() -> None:
    result = run_gate(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for stack_file in sorted(p.name for p in ROOT.glob("Pulumi.*.yaml")):
        assert any(" OK " in line for line in lines_for(result.stdout, stack_file)), stack_file
    # Prod has deletion protection and an EIP per server: the advisory policy is satisfied too.
    assert "[prod-protection]" not in result.stdout, result.stdout


def test_bad_stack_file_fails_naming_the_stack_and_the_key(project: Path) -> None:
    add_stack(project, "bad", allowedSshCidrs=["0.0.0.0/0"])
    result = run_gate(project)  # no argument: the new file is found by the glob
    assert result.returncode == 1
    bad = lines_for(result.stdout, "Pulumi.bad.yaml")
    assert bad and all(" FAIL " in line for line in bad)
    assert any("allowedSshCidrs" in line for line in bad), result.stdout
    assert "Pulumi.bad.yaml" in result.stdout.splitlines()[-1]


def test_policy_rules_run_on_what_the_program_registers(project: Path) -> None:
    # Config validation lets this through (explicit opt-in); the mandatory policy must not.
    add_stack(project, "open", allowedSshCidrs=["0.0.0.0/0"], allowSshFromAnywhere=True)
    result = run_gate(project, "Pulumi.open.yaml")
    assert result.returncode == 1
    [*_, summary] = result.stdout.splitlines()
    assert "Pulumi.open.yaml" in summary
    opened = [line for line in lines_for(result.stdout, "Pulumi.open.yaml") if " FAIL " in line]
    assert any(
        "[no-ssh-from-internet]" in line and "hardened-ecs:allowedSshCidrs" in line
        for line in opened
    ), result.stdout


def test_the_world_open_rule_follows_the_stacks_ssh_port(project: Path) -> None:
    # The program's rules are on 2222 now (issue 21): they are the SSH ingress the rule judges.
    add_stack(
        project, "moved", allowedSshCidrs=["0.0.0.0/0"], allowSshFromAnywhere=True, sshPort=2222
    )
    result = run_gate(project, "Pulumi.moved.yaml")
    assert result.returncode == 1
    failed = [line for line in lines_for(result.stdout, "Pulumi.moved.yaml") if " FAIL " in line]
    assert any("[no-ssh-from-internet]" in line and "2222" in line for line in failed), (
        result.stdout
    )


def test_weak_key_in_a_stack_file_fails(project: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    add_stack(project, "weak", sshPublicKey=weak)
    result = run_gate(project, "Pulumi.weak.yaml")
    assert result.returncode == 1
    assert any("sshPublicKey" in line for line in lines_for(result.stdout, "Pulumi.weak.yaml"))


def test_a_broken_stack_file_is_reported_not_crashed_on(project: Path) -> None:
    (project / "Pulumi.broken.yaml").write_text("config: [unclosed\n")
    result = run_gate(project, "Pulumi.broken.yaml")
    assert result.returncode == 1
    assert lines_for(result.stdout, "Pulumi.broken.yaml"), result.stdout + result.stderr


def test_a_stack_without_a_key_pulumi_yaml_requires_fails_like_the_cli(project: Path) -> None:
    # The CLI refuses a stack that lacks a key Pulumi.yaml declares without a default
    # (tests/pulumi/test_pulumi_program_config.py runs the CLI itself); the gate says so offline.
    doc = yaml.safe_load((project / "Pulumi.yaml").read_text())
    doc["config"]["imageId"] = {"type": "string", "description": "declared without a default"}
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(doc))
    result = run_gate(project, "Pulumi.dev.yaml")
    assert result.returncode == 1
    dev = lines_for(result.stdout, "Pulumi.dev.yaml")
    assert any("missing configuration values imageId" in line for line in dev), result.stdout


# What a deployment needs and a preview does not: the committed stacks' placeholders and the
# sshPrivateKey secret. A warning for a preview (pipelines preview the committed stacks), an
# error with --for-up (what `make up` checks).
PLACEHOLDER_LINES = (
    "[placeholder] hardened-ecs:allowedSshCidrs item 0 '203.0.113.0/24' is a documentation range",
    "[placeholder] hardened-ecs:sshPublicKey is the committed placeholder key",
)


def test_placeholders_and_the_missing_private_key_are_warnings_for_a_preview() -> None:
    result = run_gate(ROOT, "Pulumi.dev.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    dev = lines_for(result.stdout, "Pulumi.dev.yaml")
    warnings = [line for line in dev if line.startswith("Pulumi.dev.yaml: warning ")]
    for expected in PLACEHOLDER_LINES:
        assert any(expected in line for line in warnings), result.stdout
    assert any("[program] hardened-ecs:sshPrivateKey is not set" in w for w in warnings)
    assert "`make up` refuses them" in result.stdout.splitlines()[-1]


def test_for_up_placeholders_and_the_missing_private_key_are_errors() -> None:
    result = run_gate(ROOT, "--for-up", "Pulumi.dev.yaml")
    assert result.returncode == 1, result.stdout + result.stderr
    failures = [line for line in lines_for(result.stdout, "Pulumi.dev.yaml") if " FAIL " in line]
    for expected in PLACEHOLDER_LINES:
        assert any(expected in line for line in failures), result.stdout
    assert any(
        "[config] hardened-ecs:sshPrivateKey is missing" in line
        and "pulumi config set --secret hardened-ecs:sshPrivateKey" in line
        for line in failures
    ), result.stdout
    assert not [line for line in result.stdout.splitlines() if " warning " in line]


def own_stack(project: Path, name: str, **config: object) -> Path:
    """A stack made one's own: a real range and a fresh public key, nothing left to replace."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    public = (
        rsa.generate_private_key(public_exponent=65537, key_size=3072)
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return add_stack(project, name, allowedSshCidrs=["81.2.69.0/24"], sshPublicKey=public, **config)


def test_for_up_a_stack_of_ones_own_passes_and_only_the_key_is_missing(project: Path) -> None:
    own_stack(project, "mine")
    missing = run_gate(project, "--for-up", "Pulumi.mine.yaml")
    assert missing.returncode == 1
    failures = lines_for(missing.stdout, "Pulumi.mine.yaml")
    assert len(failures) == 1 and "sshPrivateKey is missing" in failures[0], missing.stdout

    # Encrypted (as `pulumi config set --secret` stores it): the CLI decrypts it, not the gate.
    own_stack(project, "ready", sshPrivateKey={"secure": "v1:AAAA:BBBB"})
    ready = run_gate(project, "--for-up", "Pulumi.ready.yaml")
    assert ready.returncode == 0, ready.stdout + ready.stderr
    (line,) = lines_for(ready.stdout, "Pulumi.ready.yaml")
    assert " OK " in line and "not checked offline: hardened-ecs:sshPrivateKey" in line
