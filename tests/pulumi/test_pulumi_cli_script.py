"""scripts/pulumi-cli.sh: which CLI it picks, and how it builds and caches one.

The build's logic (lock, temporary directory, rename, leftovers of a killed build) runs here
with a stand-in `go` that writes small executables instead of compiling Pulumi, so it can be
killed half-way and counted; the real build is what tests/pulumi/test_pulumi_engine.py runs on.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tools.engine_stack import CLI_SCRIPT


def _pin(name: str) -> str:
    """A `NAME=value` line of scripts/pulumi-cli.sh (the pins live there only)."""
    found = re.search(rf"^{name}=(\S+)$", CLI_SCRIPT.read_text(), re.M)
    assert found is not None, name
    return found.group(1)


VERSION = _pin("PULUMI_VERSION")
ENTRY = f"pulumi-{VERSION}-lh{_pin('LANGUAGE_HOST_REVISION')}"  # the cache entry's name
SYSTEM_PATH = "/usr/bin:/bin"  # no pulumi, no go

FAKE_GO = r"""#!/bin/bash
# Stand-in for go: `mod download -json M@V` names a module directory, `build -o OUT` writes OUT.
echo "$*" >> "$FAKE_GO_LOG"
case "$1" in
mod)
    printf '{\n\t"Path": "%s",\n\t"Dir": "%s",\n}\n' "${4%@*}" "$FAKE_MODULE"
    ;;
build)
    while [[ -e "$FAKE_GO_HANG" ]]; do sleep 0.1; done
    sleep "${FAKE_GO_SLEEP:-0}"
    while [[ "$1" != -o ]]; do shift; done
    printf '#!/bin/sh\necho v%s\n' "$FAKE_VERSION" > "$2"
    chmod +x "$2"
    ;;
esac
"""


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def fake(tmp_path: Path) -> dict[str, str]:
    """Environment for the script: its own cache, the stand-in go, a fake module tree."""
    module = tmp_path / "module"
    executable(module / "python" / "cmd" / "pulumi-language-python-exec", "#!/bin/sh\n")
    executable(module / "python" / "dist" / "pulumi-resource-pulumi-python", "#!/bin/sh\n")
    go = executable(tmp_path / "go-bin" / "go", FAKE_GO)
    return {
        "PATH": SYSTEM_PATH,
        "HOME": str(tmp_path),
        "GO": str(go),
        "PULUMI_CLI_CACHE": str(tmp_path / "cache"),
        "FAKE_GO_LOG": str(tmp_path / "go.log"),
        "FAKE_GO_HANG": str(tmp_path / "hang"),
        "FAKE_MODULE": str(module),
        "FAKE_VERSION": VERSION,
    }


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI_SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def builds(env: dict[str, str]) -> int:
    log = Path(env["FAKE_GO_LOG"])
    return log.read_text().count("build ") if log.exists() else 0


def entry(env: dict[str, str]) -> Path:
    return Path(env["PULUMI_CLI_CACHE"]) / ENTRY


def test_builds_once_into_the_cache_and_reuses_it(fake: dict[str, str]) -> None:
    first = run(fake)
    assert first.returncode == 0, first.stderr
    bin_dir = entry(fake) / "bin"
    assert first.stdout == f"{bin_dir}\n"
    for name in (
        "pulumi",
        "pulumi-language-python",
        "pulumi-language-python-exec",
        "pulumi-resource-pulumi-python",
    ):
        assert os.access(bin_dir / name, os.X_OK), name
    assert not (entry(fake) / "work").exists()  # the module copies are gone
    assert builds(fake) == 2  # the CLI and the language host
    again = run(fake)
    assert again.returncode == 0 and again.stdout == first.stdout
    assert builds(fake) == 2


def test_a_build_killed_half_way_leaves_no_cache_entry_and_the_next_run_builds(
    fake: dict[str, str],
) -> None:
    Path(fake["FAKE_GO_HANG"]).touch()
    proc = subprocess.Popen(
        [str(CLI_SCRIPT)],
        env=fake,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while builds(fake) == 0:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    cache = Path(fake["PULUMI_CLI_CACHE"])
    assert not entry(fake).exists()
    assert [p.name for p in cache.glob(f"{ENTRY}.tmp.*")]  # the dead build's dir

    Path(fake["FAKE_GO_HANG"]).unlink()
    after = run(fake)
    assert after.returncode == 0, after.stderr
    assert (entry(fake) / "bin" / ".complete").is_file()
    assert not list(cache.glob(f"{ENTRY}.tmp.*"))


def test_two_runs_at_once_build_it_once(fake: dict[str, str]) -> None:
    env = {**fake, "FAKE_GO_SLEEP": "1"}
    procs = [
        subprocess.Popen([str(CLI_SCRIPT)], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs[0] == outs[1] == f"{entry(fake) / 'bin'}\n"
    assert builds(fake) == 2


def test_a_failed_build_says_so_and_caches_nothing(fake: dict[str, str]) -> None:
    broken = executable(Path(fake["HOME"]) / "broken" / "go", "#!/bin/sh\nexit 1\n")
    proc = run({**fake, "GO": str(broken)})
    assert proc.returncode == 1 and proc.stdout == ""
    assert "building pulumi" in proc.stderr and "failed" in proc.stderr
    assert not entry(fake).exists()
    assert not list(Path(fake["PULUMI_CLI_CACHE"]).glob(f"{ENTRY}.tmp.*"))


def test_no_cli_and_no_go_is_one_line_naming_both_ways(fake: dict[str, str]) -> None:
    proc = run({**fake, "GO": ""})
    assert proc.returncode == 1 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert "https://www.pulumi.com/docs/install/" in line and "https://go.dev/dl/" in line


@pytest.mark.parametrize(("installed", "used"), [("3.280.0", True), ("3.100.0", False)])
def test_an_installed_cli_is_used_when_recent_enough(
    fake: dict[str, str], tmp_path: Path, installed: str, used: bool
) -> None:
    bin_dir = tmp_path / "installed"
    executable(bin_dir / "pulumi", f"#!/bin/sh\necho v{installed}\n")
    executable(bin_dir / "pulumi-language-python", "#!/bin/sh\n")
    executable(bin_dir / "pulumi-resource-pulumi-python", "#!/bin/sh\n")
    proc = run({**fake, "PATH": f"{bin_dir}:{SYSTEM_PATH}"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (f"{bin_dir}\n" if used else f"{entry(fake) / 'bin'}\n")
    assert builds(fake) == (0 if used else 2)
