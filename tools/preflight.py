"""`make up`'s preflight: everything a first deployment needs, checked before anything changes.

    python3 -m tools.preflight STACK [pulumi up options]

Exit 0 when the stack can be deployed; else one block on stderr naming each problem and its
fix, and exit 1. It changes nothing: no `pulumi login`, no stack created (`pulumi stack init`
writes the stack file), no file written. Standard library only, so it runs before the venv
exists: the stack's config (scripts/validate.py --for-up, in the venv) is checked once the
venv is there (scripts/up.sh runs this again after making it).

The environment's checks are in tools/preflight_env.py; the Pulumi CLI's (the provider plugin,
the stack) and the config's are here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tools.preflight_env import (
    check_backend,
    check_confirmation,
    check_credentials,
    check_passphrase,
    needs_passphrase,
    stack_file_keys,
)

ROOT = Path(__file__).resolve().parent.parent
PROVIDER = "alicloud"
# No update check (network) in what only reads.
QUIET = {"PULUMI_SKIP_UPDATE_CHECK": "true"}


def pinned_provider_version(root: Path) -> str:
    """The provider version requirements.in pins: its SDK names the plugin it needs."""
    text = (root / "requirements.in").read_text(encoding="utf-8")
    match = re.search(rf"^pulumi-{PROVIDER}==(\S+)", text, re.MULTILINE)
    if not match:
        raise RuntimeError(f"requirements.in pins no pulumi-{PROVIDER}")
    return match.group(1)


def _pulumi(args: Sequence[str], env: Mapping[str, str], root: Path) -> tuple[int, str, str]:
    proc = subprocess.run(
        ["pulumi", *args],
        cwd=root,
        env={**env, **QUIET},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no output"


def _pulumi_list(args: list[str], env: Mapping[str, str], root: Path) -> tuple[list[Any], str]:
    """A `pulumi ... --json` listing, or ([], why not) when it failed or said no list."""
    code, out, err = _pulumi(args, env, root)
    try:
        listed = json.loads(out) if code == 0 else None
    except ValueError:
        listed = None
    if isinstance(listed, list):
        return listed, ""
    return [], _last_line(err or out)


def check_plugin(env: Mapping[str, str], root: Path) -> list[str]:
    """Without the plugin, `pulumi up` downloads it (retrying, and offline failing)."""
    version = pinned_provider_version(root)
    install = f"pulumi plugin install resource {PROVIDER} v{version}"
    plugins, failed = _pulumi_list(["plugin", "ls", "--json"], env, root)
    if failed:
        return [f"`pulumi plugin ls` failed: {failed}.\nFix: {install}"]
    if any(
        isinstance(p, dict)
        and (p.get("kind"), p.get("name"), p.get("version")) == ("resource", PROVIDER, version)
        for p in plugins
    ):
        return []
    return [
        f"The Alibaba provider plugin ({PROVIDER} {version}, what pulumi-{PROVIDER}=={version} "
        "needs) is not installed.\n"
        f"Fix: {install}"
    ]


def check_stack_exists(stack: str, env: Mapping[str, str], root: Path) -> list[str]:
    stacks, failed = _pulumi_list(["stack", "ls", "--json"], env, root)
    if failed:
        return [f"Could not list the stacks: {failed}"]
    names = {s.get("name") for s in stacks if isinstance(s, dict)}
    if stack in names or any(str(n).endswith(f"/{stack}") for n in names):
        return []
    init = f"pulumi stack init {stack}"
    what = "the stack's secrets settings" if needs_passphrase(env, set()) else "its settings"
    return [
        f"The stack {stack!r} does not exist in this backend yet (`make up` does not create it: "
        f"that writes {what} into Pulumi.{stack}.yaml).\n"
        f'Fix: {init}   (then set its config; README, "First real deploy")'
    ]


def check_config(stack_file: Path, root: Path) -> list[str]:
    """The stack's config as `pulumi up` will see it: scripts/validate.py --for-up (the
    program's own config validation under mocks, placeholders, sshPrivateKey) in the venv."""
    python = root / "venv" / "bin" / "python"
    if not python.exists():
        return []  # scripts/up.sh makes the venv, then runs the preflight again
    proc = subprocess.run(
        [str(python), str(root / "scripts" / "validate.py"), "--for-up", str(stack_file)],
        cwd=root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    prefix = f"{stack_file.name}: FAIL "
    problems = [ln[len(prefix) :] for ln in proc.stdout.splitlines() if ln.startswith(prefix)]
    if proc.returncode != 0 and not problems:
        problems = [f"scripts/validate.py failed: {_last_line(proc.stderr or proc.stdout)}"]
    return [re.sub(r"\. Fix: ", ".\nFix: ", p, count=1) for p in problems]


def problems_for(
    stack: str, args: Sequence[str], env: Mapping[str, str], root: Path, interactive: bool
) -> list[str]:
    stack_file = root / f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"
    keys = stack_file_keys(stack_file)
    problems = check_credentials(env, keys)
    backend = check_backend(env)
    problems += backend
    problems += check_passphrase(env, keys)
    problems += check_confirmation(env, stack, args, interactive)
    problems += check_plugin(env, root)
    if not backend:
        problems += check_stack_exists(stack, env, root)
    if not stack_file.is_file():
        problems.append(
            f"There is no {stack_file.name}: the stack's configuration.\n"
            f"Fix: start from the dev stack's: cp Pulumi.dev.yaml {stack_file.name}"
        )
    else:
        problems += check_config(stack_file, root)
    return problems


def render(stack: str, problems: Sequence[str]) -> str:
    lines = [
        f"up: stack {stack!r} is not ready to deploy; nothing was created or changed. "
        f"{len(problems)} problem(s):"
    ]
    for number, problem in enumerate(problems, 1):
        first, *rest = problem.splitlines()
        lines.append(f"  {number}. {first}")
        lines += [f"     {line}" for line in rest]
    lines.append('The whole first deploy, step by step: README.md, "First real deploy".')
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("-"):
        print("usage: python3 -m tools.preflight STACK [pulumi up options]", file=sys.stderr)
        return 2
    stack, rest = args[0], args[1:]
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    try:
        problems = problems_for(stack, rest, os.environ, ROOT, interactive)
    except KeyboardInterrupt:
        print("up: interrupted; nothing was changed", file=sys.stderr)
        return 130
    if problems:
        print(render(stack, problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
