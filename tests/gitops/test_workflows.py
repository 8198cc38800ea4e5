"""The GitHub workflows: the offline checks (check-jsonschema + zizmor) pass on the
committed files and catch injected mistakes; the workflows keep their contract."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check-workflows.sh"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONS = sorted((ROOT / ".github" / "actions").glob("*/action.yml"))
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def on(workflow: dict[Any, Any]) -> Any:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True


def steps(doc: dict[Any, Any]) -> list[dict[str, Any]]:
    if "runs" in doc:
        return list(doc["runs"]["steps"])
    return [s for job in doc["jobs"].values() for s in job.get("steps", [])]


def run_checks(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(project / "scripts" / "check-workflows.sh"), str(project)],
        capture_output=True,
        text=True,
        env={"VENV": str(ROOT / "venv"), "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture()
def project_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    return tmp_path


def test_committed_workflows_pass_schema_and_security_checks() -> None:
    result = run_checks(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # A PR title in a shell command: template injection.
        (
            'echo "stacks=$(python3 scripts/list_stacks.py)"',
            'echo "${{ github.event.pull_request.title }}"',
            "template-injection",
        ),
        # A mutable tag instead of a SHA.
        (
            "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8",
            "actions/checkout@v5",
            "unpinned-uses",
        ),
        # Broken structure: a job without runs-on.
        ("    runs-on: ubuntu-24.04\n", "", "runs-on"),
        # The preview's secrets read outside its environment (auditor persona).
        ("    environment: preview-${{ matrix.stack }}\n", "", "secrets-outside-env"),
    ],
)
def test_checks_catch_a_bad_workflow(project_copy: Path, old: str, new: str, expected: str) -> None:
    preview = project_copy / ".github" / "workflows" / "preview.yml"
    text = preview.read_text()
    assert old in text
    preview.write_text(text.replace(old, new, 1))
    result = run_checks(project_copy)
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr


def test_every_workflow_starts_with_no_permissions_and_grants_per_job() -> None:
    for path in WORKFLOWS:
        workflow = load(path)
        assert workflow["permissions"] == {}, path.name
        for name, job in workflow["jobs"].items():
            assert "permissions" in job, f"{path.name}:{name}"
            assert "write" not in json.dumps(job["permissions"]).replace(
                '"id-token": "write"', ""
            ).replace('"pull-requests": "write"', ""), f"{path.name}:{name}"


def test_actions_are_pinned_to_commit_shas_except_the_documented_one() -> None:
    for path in [*WORKFLOWS, *ACTIONS]:
        for step in steps(load(path)):
            uses = step.get("uses")
            if uses is None or uses.startswith("./"):
                continue
            if uses.startswith("pulumi/actions@"):
                assert "pulumi/actions" in (ROOT / ".github" / "zizmor.yml").read_text()
                continue
            assert SHA_PIN.match(uses), f"{path.name}: {uses}"
        # Every SHA carries the version it stands for.
        for line in path.read_text().splitlines():
            if re.search(r"@[0-9a-f]{40}", line):
                assert re.search(r"# v\d+\.\d+\.\d+", line), line


def test_no_expression_is_expanded_inside_a_shell_script() -> None:
    for path in [*WORKFLOWS, *ACTIONS]:
        for step in steps(load(path)):
            assert "${{" not in step.get("run", ""), f"{path.name}: {step.get('name')}"


def test_checkout_never_persists_the_token() -> None:
    for path in WORKFLOWS:
        for step in steps(load(path)):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, path.name


def test_dependencies_are_installed_from_the_lock_with_hashes_checked() -> None:
    setup = load(ROOT / ".github" / "actions" / "setup" / "action.yml")
    scripts = " ".join(s.get("run", "") for s in steps(setup))
    assert "pip install" in scripts and "-r requirements.txt" in scripts
    assert "--require-hashes" in scripts
    # The policy pack's requirements are the runtime lock itself: one install serves both.
    policy = (ROOT / "policy" / "requirements.txt").read_text()
    assert "-r ../requirements.txt" in policy.splitlines()


def pulumi_steps(workflow: dict[Any, Any], job: str) -> list[dict[str, Any]]:
    return [s for s in workflow["jobs"][job]["steps"] if "pulumi/actions" in s.get("uses", "")]


def test_pull_requests_preview_every_stack_with_a_comment_and_the_policy_pack() -> None:
    workflow = load(ROOT / ".github" / "workflows" / "preview.yml")
    assert "pull_request" in on(workflow) and "pull_request_target" not in on(workflow)
    job = workflow["jobs"]["preview"]
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    assert "validate" in job["needs"]
    [step] = pulumi_steps(workflow, "preview")
    assert step["with"]["command"] == "preview"
    assert step["with"]["comment-on-pr"] is True
    assert step["with"]["policyPacks"] == "policy"
    assert job["permissions"]["pull-requests"] == "write"


def test_main_deploys_dev_then_other_stacks_behind_their_environments() -> None:
    workflow = load(ROOT / ".github" / "workflows" / "deploy.yml")
    assert on(workflow) == {"push": {"branches": ["main"]}}
    dev, promote = workflow["jobs"]["dev"], workflow["jobs"]["promote"]
    assert dev["environment"] == "dev"
    assert promote["environment"] == "${{ matrix.stack }}"
    assert "dev" in promote["needs"]
    for name in ("dev", "promote"):
        [step] = pulumi_steps(workflow, name)
        assert step["with"]["command"] == "up" and step["with"]["policyPacks"] == "policy"
        assert workflow["jobs"][name]["concurrency"]["cancel-in-progress"] is False
        assert workflow["jobs"][name]["concurrency"]["group"].startswith("pulumi-")


def test_nightly_drift_checks_cloud_and_sshd_and_fails_on_either() -> None:
    workflow = load(ROOT / ".github" / "workflows" / "drift.yml")
    assert "schedule" in on(workflow)
    job = workflow["jobs"]["drift"]
    [step] = pulumi_steps(workflow, "drift")
    assert step["with"]["refresh"] is True and step["with"]["expect-no-changes"] is True
    scripts = " ".join(s.get("run", "") for s in job["steps"])
    assert "scripts/drift_check.py" in scripts
    last = job["steps"][-1]
    assert "steps.cloud.outcome" in last["if"] and "steps.sshd.outcome" in last["if"]
    assert "exit 1" in last["run"]


def test_drift_keeps_the_controls_reports_and_summarises_the_failing_controls() -> None:
    job = load(ROOT / ".github" / "workflows" / "drift.yml")["jobs"]["drift"]
    names = [s.get("id") or s.get("name") for s in job["steps"]]
    sshd = job["steps"][names.index("sshd")]
    assert '--reports "$RUNNER_TEMP/controls"' in sshd["run"]
    assert '--summary "$GITHUB_STEP_SUMMARY"' in sshd["run"]
    [upload] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    # After the check, before the step that fails the job, and also when the check failed.
    assert names.index("sshd") < job["steps"].index(upload) < len(job["steps"]) - 1
    assert upload["if"] == "${{ !cancelled() }}"
    assert SHA_PIN.match(upload["uses"].split()[0]), upload["uses"]
    # The reports the check wrote, nothing else: the work directory holds the private key.
    assert upload["with"]["path"].splitlines() == [
        "${{ runner.temp }}/controls/*.json",
        "${{ runner.temp }}/controls/*.junit.xml",
    ]
    assert "drift" not in upload["with"]["path"]
    assert upload["with"]["name"] == "controls-${{ matrix.stack }}"


def test_secrets_come_from_secrets_not_from_files() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        for name in ("PULUMI_CONFIG_PASSPHRASE", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
            for line in text.splitlines():
                if line.strip().startswith(f"{name}:"):
                    assert f"secrets.{name}" in line, f"{path.name}: {line}"


def test_stack_matrices_come_from_the_stack_files(tmp_path: Path) -> None:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "Pulumi.staging.yaml"):
        (tmp_path / name).write_text("config: {}\n")
    script = ROOT / "scripts" / "list_stacks.py"

    def listed(*extra: str) -> Any:
        out = subprocess.run(
            ["python3", str(script), "--project-dir", str(tmp_path), *extra],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(out)

    assert listed() == ["dev", "prod", "staging"]
    assert listed("--exclude", "dev") == ["prod", "staging"]
    for path in WORKFLOWS:
        # Only dev (deployed first) is named; every matrix is computed.
        assert "prod" not in re.sub(r"#.*", "", path.read_text()), path.name


# --- environments, branches and runners (who may read which stack's secrets) ----------------

WORKFLOW_NAMES = ("preview", "deploy", "drift")
ON_MAIN = "github.ref == 'refs/heads/main'"
SELF_HOSTED = "${{ vars.PULUMI_RUNNER || 'ubuntu-24.04' }}"
# The environment each stack-touching job must run in, per workflow and job.
ENVIRONMENTS = {
    ("preview", "preview"): "preview-${{ matrix.stack }}",
    ("deploy", "dev"): "dev",
    ("deploy", "promote"): "${{ matrix.stack }}",
    ("drift", "drift"): "drift-${{ matrix.stack }}",
}


def committed() -> dict[str, dict[Any, Any]]:
    return {name: load(ROOT / ".github" / "workflows" / f"{name}.yml") for name in WORKFLOW_NAMES}


def reads_stack_credentials(job: dict[str, Any]) -> bool:
    """Secrets, variables (other than the runner label) or an OIDC token."""
    body = {k: v for k, v in job.items() if k != "runs-on"}
    text = json.dumps(body)
    return "secrets." in text or "vars." in text or "id-token" in text


def environment_problems(workflows: dict[str, dict[Any, Any]]) -> list[str]:
    """Every job that reads secrets, variables or an OIDC token runs in a GitHub environment,
    the one named for its workflow and stack, and only the expected jobs do."""
    problems = []
    for wf, workflow in workflows.items():
        for name, job in workflow["jobs"].items():
            expected = ENVIRONMENTS.get((wf, name))
            env = job.get("environment")
            env_name = env.get("name") if isinstance(env, dict) else env
            if reads_stack_credentials(job) and expected is None:
                problems.append(f"{wf}:{name} reads credentials but is not a stack job")
            if expected is not None and env_name != expected:
                problems.append(f"{wf}:{name} runs in {env_name!r}, not {expected!r}")
    return problems


def branch_problems(workflows: dict[str, dict[Any, Any]]) -> list[str]:
    """drift and deploy: every job holding a stack's credentials runs only from main."""
    problems = []
    for wf in ("deploy", "drift"):
        for name, job in workflows[wf]["jobs"].items():
            if (wf, name) in ENVIRONMENTS and ON_MAIN not in str(job.get("if", "")):
                problems.append(f"{wf}:{name} can run from a branch other than main")
    return problems


def runner_problems(workflows: dict[str, dict[Any, Any]]) -> list[str]:
    """Jobs that reach the servers over SSH run on the configurable (self-hosted) runner;
    PR previews, which run the PR's code and need no SSH, never do."""
    problems = []
    for wf, name in ENVIRONMENTS:
        runs_on = workflows[wf]["jobs"][name]["runs-on"]
        if wf == "preview":
            if "vars." in str(runs_on) or "self-hosted" in str(runs_on):
                problems.append(f"{wf}:{name} runs PR code on the self-hosted runner")
        elif runs_on != SELF_HOSTED:
            problems.append(f"{wf}:{name} runs on {runs_on!r}, not {SELF_HOSTED!r}")
    return problems


def concurrency_problems(workflows: dict[str, dict[Any, Any]]) -> list[str]:
    """One run per stack: each stack job's concurrency group names its stack."""
    problems = []
    for wf, name in ENVIRONMENTS:
        job = workflows[wf]["jobs"][name]
        group = str(job.get("concurrency", {}).get("group", ""))
        stack = "dev" if name == "dev" else "${{ matrix.stack }}"
        if stack not in group:
            problems.append(f"{wf}:{name} concurrency group {group!r} is not per stack")
    return problems


RULES = (environment_problems, branch_problems, runner_problems, concurrency_problems)


def test_committed_workflows_keep_stack_credentials_in_environments_on_main() -> None:
    workflows = committed()
    assert [p for rule in RULES for p in rule(workflows)] == []


def test_drift_can_be_run_by_hand_and_on_schedule() -> None:
    assert {"schedule", "workflow_dispatch"} <= set(on(committed()["drift"]))


@pytest.mark.parametrize(
    ("wf", "job", "key", "value", "rule"),
    [
        # The preview of every stack in one shared environment, or in none.
        ("preview", "preview", "environment", "preview", environment_problems),
        ("preview", "preview", "environment", None, environment_problems),
        # A prod preview in the deploy environment (prod's write credentials).
        ("preview", "preview", "environment", "${{ matrix.stack }}", environment_problems),
        # Drift in the stack's deploy environment (prod's reviewers would hold every night).
        ("drift", "drift", "environment", "${{ matrix.stack }}", environment_problems),
        ("deploy", "promote", "environment", {"name": "staging"}, environment_problems),
        ("deploy", "dev", "environment", None, environment_problems),
        # A helper job that reads a secret outside any stack environment.
        (
            "deploy",
            "stacks",
            "env",
            {"T": "${{ secrets.PULUMI_ACCESS_TOKEN }}"},
            environment_problems,
        ),
        ("drift", "stacks", "permissions", {"id-token": "write"}, environment_problems),
        # By-hand runs from any branch.
        ("drift", "drift", "if", None, branch_problems),
        ("deploy", "dev", "if", None, branch_problems),
        ("deploy", "promote", "if", "needs.stacks.outputs.promote != '[]'", branch_problems),
        # Jobs that need SSH on a GitHub-hosted runner; PR code on the self-hosted one.
        ("drift", "drift", "runs-on", "ubuntu-24.04", runner_problems),
        ("deploy", "promote", "runs-on", "ubuntu-24.04", runner_problems),
        ("preview", "preview", "runs-on", SELF_HOSTED, runner_problems),
        # One concurrency group for every stack.
        ("drift", "drift", "concurrency", {"group": "drift"}, concurrency_problems),
        ("deploy", "promote", "concurrency", {"group": "pulumi"}, concurrency_problems),
        ("preview", "preview", "concurrency", {"group": "preview"}, concurrency_problems),
    ],
)
def test_each_environment_rule_fails_on_a_broken_workflow(
    wf: str, job: str, key: str, value: Any, rule: Any
) -> None:
    workflows = committed()
    if value is None:
        workflows[wf]["jobs"][job].pop(key, None)
    else:
        workflows[wf]["jobs"][job][key] = value
    assert rule(workflows), (wf, job, key, value)


def test_docs_say_no_repository_secrets_and_gate_the_prod_preview() -> None:
    docs = (ROOT / "docs" / "gitops.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for text in (docs, readme):
        assert "preview-prod" in text and "drift-<stack>" in text
        assert "no secrets at repository level" in text.lower().replace("\n", " ")
        assert "PULUMI_RUNNER" in text and "self-hosted" in text


def test_dependabot_proposes_updates_for_every_lock_and_pin() -> None:
    # Updates arrive as pull requests (which run the pipeline) for each place a version is
    # pinned: the pip inputs and their locks, the language host's go.sum, the actions' SHAs.
    config = load(ROOT / ".github" / "dependabot.yml")
    seen = {(u["package-ecosystem"], d) for u in config["updates"] for d in
            u.get("directories", [u.get("directory")])}  # fmt: skip
    for ecosystem, directory in seen:
        if ecosystem == "pip":
            assert list((ROOT / directory.lstrip("/")).glob("*.in")), directory
        if ecosystem == "gomod":
            assert (ROOT / directory.lstrip("/") / "go.sum").is_file(), directory
    assert {("pip", "/"), ("pip", "/bench"), ("gomod", "/tools/langhost")} <= seen
    assert ("github-actions", "/") in seen
    assert all(u["cooldown"]["default-days"] >= 7 for u in config["updates"])
