"""The catalogue's rules as pulumi-policy objects (what `pulumi preview --policy-pack` runs)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pulumi.runtime
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .catalogue import RESOURCE_SPECS, STACK_SPECS, ResourceSpec, StackSpec
from .model import PROJECT, Finding, Resource, RuleContext, stack_of_urn

LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}

SSH_PORTS_SCHEMA = PolicyConfigSchema(
    properties={
        "sshPorts": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1, "maximum": 65535},
            "default": [22],
            "description": "Ports sshd listens on; ingress to them is SSH ingress.",
        }
    }
)


def _stack_ssh_port() -> int | None:
    # The CLI hands the analyzer the stack config; absent outside a real preview.
    try:
        value = pulumi.runtime.get_config(f"{PROJECT}:sshPort")
    except Exception:
        return None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def context_for(urn: str, config: Mapping[str, Any]) -> RuleContext:
    ports = {int(p) for p in config.get("sshPorts") or [22]}
    if (stack_port := _stack_ssh_port()) is not None:
        ports.add(stack_port)
    stack = stack_of_urn(urn) or os.environ.get("PULUMI_STACK", "")
    return RuleContext(stack=stack, ssh_ports=frozenset(ports))


def message(finding: Finding) -> str:
    if finding.config_key:
        return f"{finding.message} (stack config: {finding.config_key})"
    return finding.message


def as_resource(res: PolicyResource) -> Resource:
    dependencies = [d.urn for d in res.dependencies]
    dependencies += [d.urn for deps in res.property_dependencies.values() for d in deps]
    parent = res.parent.urn if res.parent is not None else res.opts.parent
    return Resource(
        type=res.resource_type,
        props=res.props,
        name=res.name,
        urn=res.urn,
        parent=parent,
        dependencies=dependencies,
    )


def resource_policy(spec: ResourceSpec) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        ctx = context_for(args.urn, args.get_config())
        for finding in spec.rule(args.resource_type, args.props, ctx):
            report_violation(message(finding), None)

    return ResourceValidationPolicy(
        name=spec.name,
        description=spec.description,
        enforcement_level=LEVELS[spec.level],
        validate=validate,
        config_schema=SSH_PORTS_SCHEMA if spec.name == "no-ssh-from-internet" else None,
    )


def stack_policy(spec: StackSpec) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [as_resource(r) for r in args.resources]
        first_urn = next((r.urn for r in args.resources), "")
        ctx = context_for(first_urn, args.get_config())
        for finding in spec.rule(resources, ctx):
            report_violation(message(finding), finding.urn)

    return StackValidationPolicy(
        name=spec.name,
        description=spec.description,
        enforcement_level=LEVELS[spec.level],
        validate=validate,
    )


POLICIES: list[Policy] = [resource_policy(s) for s in RESOURCE_SPECS] + [
    stack_policy(s) for s in STACK_SPECS
]
