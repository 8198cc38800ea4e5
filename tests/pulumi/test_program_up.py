"""`make up STACK=…` without the Pulumi CLI (none installed, no Go to build one: see
scripts/pulumi-cli.sh): one line on how to get it, non-zero, no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UP = ROOT / "scripts" / "up.sh"


@pytest.fixture
def path_without_pulumi(tmp_path: Path) -> str:
    """A PATH holding only bash (for the script's shebang): certainly no `pulumi` on it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    bash = shutil.which("bash")
    assert bash is not None
    (bin_dir / "bash").symlink_to(bash)
    return str(bin_dir)


def no_cli_env(tmp_path: Path) -> dict[str, str]:
    """No Go to build a CLI with, and an empty CLI cache."""
    return {"GO": "", "PULUMI_CLI_CACHE": str(tmp_path / "cli-cache")}


def run_up(path: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "HOME": os.environ.get("HOME", "/root"), **no_cli_env(tmp_path)}
    return subprocess.run(
        [str(UP), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_without_the_cli_up_prints_one_line_with_the_install_url(
    tmp_path: Path, path_without_pulumi: str
) -> None:
    state = ROOT / ".pulumi-state"
    state_existed = state.exists()
    result = run_up(path_without_pulumi, tmp_path, "dev")
    assert result.returncode != 0
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) == 1, lines
    assert "https://www.pulumi.com/docs/install/" in lines[0]
    assert "https://go.dev/dl/" in lines[0]
    assert "Traceback" not in lines[0]
    # Nothing was prepared for a deployment that cannot happen.
    assert state.exists() == state_existed


def test_make_up_without_the_cli_does_no_venv_work_first(tmp_path: Path) -> None:
    # A copy of the project without a venv, and a PATH with make and bash but no pulumi, where
    # `python3` is a witness that records any call (a venv or pip install would need it).
    make, bash = shutil.which("make"), shutil.which("bash")
    if make is None or bash is None:
        pytest.skip("make or bash is not installed")
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    for name in (
        "Makefile",
        "requirements.txt",
        "requirements-dev.txt",
        "scripts/up.sh",
        "scripts/pulumi-cli.sh",
    ):
        shutil.copy2(ROOT / name, project / name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "bash").symlink_to(bash)
    (bin_dir / "make").symlink_to(make)
    witness = tmp_path / "python3-called"
    python3 = bin_dir / "python3"
    python3.write_text(f'#!{bash}\necho "$*" >> {witness}\nexit 1\n')
    python3.chmod(0o755)

    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), **no_cli_env(tmp_path)}
    started = time.monotonic()
    result = subprocess.run(
        [make, "--no-print-directory", "-s", "up", "STACK=dev"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert time.monotonic() - started < 10
    assert result.returncode != 0
    lines = result.stdout.splitlines() + [
        ln for ln in result.stderr.splitlines() if not ln.startswith("make: ***")
    ]
    assert len(lines) == 1, lines
    assert "https://www.pulumi.com/docs/install/" in lines[0]
    assert not witness.exists(), witness.read_text()
    assert not (project / "venv").exists()


def test_make_up_runs_the_script_with_the_stack() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    # -n: print the recipe only (no venv rebuild, nothing run).
    dry = subprocess.run(
        [make, "-n", "up", "STACK=prod"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert dry.returncode == 0, dry.stderr
    assert "scripts/up.sh prod" in dry.stdout.splitlines()
