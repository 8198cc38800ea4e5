"""Run every rule of the catalogue over a list of resources (offline gate, tests)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .catalogue import RESOURCE_SPECS, STACK_SPECS
from .model import Finding, Level, Resource, RuleContext


@dataclass(frozen=True)
class Violation:
    policy: str
    level: Level
    finding: Finding
    resource: str | None = None  # name of the resource a resource policy flagged


def evaluate(resources: Sequence[Resource], ctx: RuleContext) -> list[Violation]:
    violations: list[Violation] = []
    for res in resources:
        for spec in RESOURCE_SPECS:
            for finding in spec.rule(res["type"], res["props"], ctx):
                name = res.get("name") or res.get("urn")
                violations.append(Violation(spec.name, spec.level, finding, name))
    for stack_spec in STACK_SPECS:
        for finding in stack_spec.rule(resources, ctx):
            violations.append(Violation(stack_spec.name, stack_spec.level, finding))
    return violations
