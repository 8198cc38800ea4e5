"""`make up`'s preflight (tools/preflight.py) under the real Pulumi CLI, as a first user meets
it: every missing piece named with its fix in one block, no traceback, and nothing changed —
no tracked file, no login, no stack."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns(
    "venv", ".git", "__pycache__", "*.pyc", ".*_cache", "tests", "bench", ".pulumi-state"
)
PASSPHRASE = "preflight-test-passphrase"  # a throwaway stack's
INSTALL_PLUGIN = "pulumi plugin install resource alicloud v4.0.0"


def clean_env(home: Path, cli: Path, **extra: str) -> dict[str, str]:
    """A user's shell with nothing set up: a fresh home (also the CLI's: it reads the account's
    home directory, not $HOME), the CLI on PATH, no credentials, backend or passphrase."""
    return {
        "PATH": f"{cli}:/usr/bin:/bin",
        "HOME": str(home),
        "PULUMI_HOME": str(home / ".pulumi"),
        "LANG": "C.UTF-8",
        **extra,
    }


def make_up(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-s", "up", "STACK=dev", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_a_first_make_up_names_every_problem_and_changes_nothing(tmp_path: Path, cli: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    before, local_state = git_status(), (ROOT / ".pulumi-state").exists()
    result = make_up(ROOT, clean_env(home, cli))
    assert result.returncode != 0
    assert result.stdout == ""
    block = [ln for ln in result.stderr.splitlines() if not ln.startswith("make: ***")]
    text = "\n".join(block)
    assert block[0].startswith("up: stack 'dev' is not ready to deploy; nothing was created")
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    for expected in (
        "No Alibaba Cloud credentials",
        "export ALIBABA_CLOUD_ACCESS_KEY_ID=... ALIBABA_CLOUD_ACCESS_KEY_SECRET=...",
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
        "No Pulumi state backend chosen",
        "PULUMI_BACKEND_URL=file://",
        "s3://BUCKET?endpoint=oss-",
        "PULUMI_ACCESS_TOKEN",
        "No passphrase for the stack's secrets",
        "PULUMI_CONFIG_PASSPHRASE_FILE",
        "Not a terminal",
        "make up STACK=dev YES=1",
        f"Fix: {INSTALL_PLUGIN}",
        "hardened-ecs:allowedSshCidrs item 0 '203.0.113.0/24' is a documentation range",
        "hardened-ecs:sshPublicKey is the committed placeholder key",
        "hardened-ecs:sshPrivateKey is missing",
    ):
        assert expected in text, text
    # No backend: the stack is not looked for (that would need one).
    assert "pulumi stack init" not in text
    # Nothing changed: no tracked or untracked file (the stack file), no state, no login.
    assert git_status() == before
    assert (ROOT / ".pulumi-state").exists() == local_state
    assert not (home / ".pulumi" / "credentials.json").exists()
    assert not (home / ".pulumi" / "workspaces").exists()


def test_an_existing_login_is_used_as_it_is_and_a_missing_stack_is_named(
    tmp_path: Path, cli: Path
) -> None:
    home, state = tmp_path / "home", tmp_path / "state"
    (home / ".pulumi").mkdir(parents=True)
    state.mkdir()
    login = home / ".pulumi" / "credentials.json"
    login.write_text(json.dumps({"current": f"file://{state}", "accessTokens": {}}))
    before = login.read_bytes()
    env = clean_env(
        home,
        cli,
        ALIBABA_CLOUD_ACCESS_KEY_ID="LTAI-test",
        ALIBABA_CLOUD_ACCESS_KEY_SECRET="test-secret",
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
    )
    statuses = git_status()
    result = make_up(ROOT, env, "YES=1")
    assert result.returncode != 0
    text = result.stderr
    assert "Traceback" not in text
    for gone in ("No Alibaba Cloud credentials", "No Pulumi state backend", "No passphrase"):
        assert gone not in text, text
    assert "Not a terminal" not in text  # YES=1
    assert "The stack 'dev' does not exist in this backend yet" in text, text
    assert "Fix: pulumi stack init dev" in text
    assert login.read_bytes() == before
    # No stack was created (listing them leaves only the backend's own meta.yaml).
    assert not [p for p in state.rglob("*") if "stacks" in p.parts], list(state.rglob("*"))
    assert git_status() == statuses


def test_a_missing_state_directory_and_an_oss_backend_without_its_keys_are_named(
    tmp_path: Path, cli: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    gone = tmp_path / "no-such-dir"
    local = make_up(ROOT, clean_env(home, cli, PULUMI_BACKEND_URL=f"file://{gone}"))
    assert f"Fix: mkdir -p {gone}" in local.stderr, local.stderr
    assert not gone.exists()
    oss = "s3://bucket?endpoint=oss-cn-hangzhou.aliyuncs.com&s3ForcePathStyle=true"
    remote = make_up(ROOT, clean_env(home, cli, PULUMI_BACKEND_URL=oss))
    assert "needs its key pair" in remote.stderr and "AWS_ACCESS_KEY_ID" in remote.stderr


def copy_with_own_dev_stack(tmp_path: Path, **config: object) -> tuple[Path, str]:
    """A copy of the project whose dev stack is one's own (a real range, a fresh public key),
    and the private half of that key."""
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=SKIP)
    (project / "venv").symlink_to(ROOT / "venv")
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    stack_file = project / "Pulumi.dev.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"]["hardened-ecs:allowedSshCidrs"] = ["81.2.69.0/24"]
    doc["config"]["hardened-ecs:sshPublicKey"] = public
    doc["config"].update(config)
    stack_file.write_text(yaml.safe_dump(doc))
    return project, private


def own_project(tmp_path: Path, cli: Path, env: dict[str, str]) -> Path:
    """The copy's dev stack exists, with the private key set as the CLI sets a secret."""
    project, private = copy_with_own_dev_stack(tmp_path)

    def pulumi(*args: str, stdin: str | None = None) -> None:
        subprocess.run(
            [str(cli / "pulumi"), *args],
            cwd=project,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )

    pulumi("stack", "init", "dev")
    pulumi("config", "set", "--secret", "hardened-ecs:sshPrivateKey", "--", stdin=private)
    return project


def test_a_ready_stack_passes_once_the_plugin_is_installed(tmp_path: Path, cli: Path) -> None:
    home, state = tmp_path / "home", tmp_path / "state"
    home.mkdir()
    state.mkdir()
    env = clean_env(
        home,
        cli,
        PULUMI_BACKEND_URL=f"file://{state}",
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        ALIBABA_CLOUD_ROLE_ARN="acs:ram::1:role/deploy",
        ALIBABA_CLOUD_OIDC_PROVIDER_ARN="acs:ram::1:oidc-provider/github",
        ALIBABA_CLOUD_OIDC_TOKEN_FILE=str(tmp_path / "token"),
    )
    project = own_project(tmp_path, cli, env)

    def preflight() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["python3", "-m", "tools.preflight", "dev", "--yes"],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )

    missing = preflight()
    assert missing.returncode == 1
    assert "1 problem(s)" in missing.stderr and f"Fix: {INSTALL_PLUGIN}" in missing.stderr

    # What `pulumi plugin install` leaves in the plugin cache (no download here).
    plugin = home / ".pulumi" / "plugins" / "resource-alicloud-v4.0.0"
    plugin.mkdir(parents=True)
    (plugin / "pulumi-resource-alicloud").write_text("#!/bin/sh\nexit 1\n")
    (plugin / "pulumi-resource-alicloud").chmod(0o755)
    ready = preflight()
    assert ready.returncode == 0, ready.stderr
    assert ready.stderr == ""


def test_with_everything_in_place_up_runs_pulumi_up_and_nothing_else(tmp_path: Path) -> None:
    # A stand-in installed CLI (new enough, helpers beside it) that records its calls and
    # answers the preflight's questions: the plugin is there, so is the stack.
    project, _ = copy_with_own_dev_stack(
        tmp_path, **{"hardened-ecs:sshPrivateKey": {"secure": "v1:AAAA:BBBB"}}
    )
    bin_dir, log, state = tmp_path / "bin", tmp_path / "calls", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    plugins = json.dumps([{"name": "alicloud", "kind": "resource", "version": "4.0.0"}])
    fake = bin_dir / "pulumi"
    fake.write_text(
        "#!/bin/bash\n"
        'if [ "$1" = version ]; then echo v99.0.0; exit; fi\n'
        f'echo "$*" >> {log}\n'
        f"if [ \"$1 $2\" = 'plugin ls' ]; then echo '{plugins}'; fi\n"
        'if [ "$1 $2" = \'stack ls\' ]; then echo \'[{"name": "dev"}]\'; fi\n'
    )
    for tool in (
        fake,
        bin_dir / "pulumi-language-python",
        bin_dir / "pulumi-resource-pulumi-python",
    ):
        tool.touch()
        tool.chmod(0o755)
    env = clean_env(
        tmp_path / "home",
        bin_dir,
        PULUMI_BACKEND_URL=f"file://{state}",
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        ALIBABA_CLOUD_ACCESS_KEY_ID="LTAI-test",
        ALIBABA_CLOUD_ACCESS_KEY_SECRET="test-secret",
    )
    result = make_up(project, env, "YES=1")
    assert result.returncode == 0, result.stderr
    # No login, no stack created or selected: only questions, then the deployment.
    assert log.read_text().splitlines() == [
        "plugin ls --json",
        "stack ls --json",
        "up --stack dev --yes",
    ]
