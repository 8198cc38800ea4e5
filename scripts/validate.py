"""Offline gate: every Pulumi.<stack>.yaml through config validation, the program under
mocks and the policy pack's rules. No cloud credentials, no Pulumi CLI.

    python scripts/validate.py [--project-dir DIR] [Pulumi.<stack>.yaml ...]

Stacks are found by globbing `Pulumi.*.yaml` in the project directory, so a new stack
file is checked without any change here. Prints one line per stack (OK) or one line per
problem, each naming the stack file; exits 1 when any stack fails. Advisory policy
findings are printed but do not fail the gate (as in `pulumi preview`).

What a stack needs for a deployment but not for a preview (a real value in place of a
placeholder, components/config_placeholders.py; the sshPrivateKey secret) is a warning: the
committed stacks hold placeholders by design, and pipelines preview them. With `--for-up`
(what `make up` checks) each is an error, and the program runs as during `pulumi up`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported at run time from --project-dir, see _import_project
    from policy.guardrails.model import Resource
    from tools.offline_preview import PreviewResult, RegisteredResource

DEFAULT_PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass
class StackReport:
    stack_file: str
    failures: list[str] = field(default_factory=list)
    # Fine for a preview, refused by a deployment (errors with --for-up).
    warnings: list[str] = field(default_factory=list)
    advisories: list[str] = field(default_factory=list)
    resource_count: int = 0
    unchecked_secrets: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        name = self.stack_file
        if not self.ok:
            out = [f"{name}: FAIL {failure}" for failure in self.failures]
        else:
            note = f"{self.resource_count} resources"
            if self.unchecked_secrets:
                note += f"; encrypted, not checked offline: {', '.join(self.unchecked_secrets)}"
            # Warnings only beside OK: a failing stack shows what to fix first.
            out = [f"{name}: OK ({note})"]
            out += [f"{name}: warning {warning}" for warning in self.warnings]
        return out + [f"{name}: advisory {advisory}" for advisory in self.advisories]


def stack_files(project_dir: Path) -> list[Path]:
    return sorted(project_dir.glob("Pulumi.*.yaml"))


def as_resource(registered: RegisteredResource) -> Resource:
    return {
        "type": registered.type,
        "name": registered.name,
        "urn": registered.urn,
        "parent": registered.parent,
        "props": registered.inputs,
        "dependencies": sorted(registered.dependencies),
    }


def ssh_ports(project: str, config: dict[str, str]) -> frozenset[int]:
    ports = {22}
    with contextlib.suppress(ValueError):  # the program's own validation reports a bad port
        ports.add(int(config.get(f"{project}:sshPort", "22")))
    return frozenset(ports)


def check_stack(stack_file: Path, project_dir: Path, *, for_up: bool = False) -> StackReport:
    from components.config_placeholders import placeholder_problems
    from policy.guardrails.evaluate import evaluate
    from policy.guardrails.model import RuleContext
    from tools.offline_preview import read_stack_files, run_offline_preview

    report = StackReport(stack_file.name)
    try:
        project, _stack, config, _secret, encrypted = read_stack_files(stack_file, project_dir)
        # As during `pulumi up` for --for-up (a missing sshPrivateKey is then the program's
        # error), unless the key is encrypted: offline it reads as missing, the CLI decrypts it.
        as_up = for_up and f"{project}:sshPrivateKey" not in encrypted
        result: PreviewResult = run_offline_preview(stack_file, project_dir, preview=not as_up)
    except Exception as exc:  # unreadable YAML, missing Pulumi.yaml, ...
        report.failures.append(f"[stack file] {exc}")
        return report
    placeholders = [f"[placeholder] {problem}" for problem in placeholder_problems(config)]
    (report.failures if for_up else report.warnings).extend(placeholders)
    if not for_up:  # e.g. sshPrivateKey not set: the program's own warning for a preview
        report.warnings += [f"[program] {m}" for level, m in result.messages if level == "WARNING"]
    report.failures += [f"[config] {problem}" for problem in result.config_problems]
    if result.error:
        last = result.error.strip().splitlines()[-1]
        report.failures.append(f"[program] {last}")
    if not result.ok:
        return report

    report.resource_count = len(result.resources)
    report.unchecked_secrets = result.encrypted_keys
    ctx = RuleContext(stack=result.stack, ssh_ports=ssh_ports(project, config))
    for violation in evaluate([as_resource(r) for r in result.resources], ctx):
        finding = violation.finding
        where = f" {violation.resource}:" if violation.resource else ""
        key = f" (stack config: {finding.config_key})" if finding.config_key else ""
        line = f"[{violation.policy}]{where} {finding.message}{key}"
        (report.failures if violation.level == "mandatory" else report.advisories).append(line)
    return report


def _import_project(project_dir: Path) -> None:
    # The program, its runner and the pack are imported from the project being checked.
    path = str(project_dir)
    if path not in sys.path:
        sys.path.insert(0, path)


def run(project_dir: Path, files: Iterable[Path], *, for_up: bool = False) -> list[StackReport]:
    _import_project(project_dir)
    return [check_stack(f, project_dir, for_up=for_up) for f in files]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", type=Path, default=DEFAULT_PROJECT_DIR)
    parser.add_argument(
        "--for-up",
        action="store_true",
        help="placeholders and a missing sshPrivateKey are errors, as for `make up`",
    )
    parser.add_argument("stack_files", nargs="*", type=Path)
    args = parser.parse_args(argv)
    project_dir: Path = args.project_dir.resolve()
    files = [f.resolve() for f in args.stack_files] or stack_files(project_dir)
    if not files:
        print(f"validate: no Pulumi.*.yaml in {project_dir}")
        return 1
    reports = run(project_dir, files, for_up=args.for_up)
    for report in reports:
        print("\n".join(report.lines()))
    failed = [r.stack_file for r in reports if not r.ok]
    warned = [r.stack_file for r in reports if r.ok and r.warnings]
    note = (
        f"; {len(warned)} with warnings: fine for a preview, `make up` refuses them"
        if warned
        else ""
    )
    print(
        f"validate: {len(reports)} stack(s), {len(failed)} failed{': ' if failed else ''}"
        f"{', '.join(failed)}{note}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
