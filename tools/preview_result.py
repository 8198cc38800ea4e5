"""What one offline run of the Pulumi program did: its resources, outputs, look-ups and logs
(tools/offline_preview.py makes these)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RegisteredResource:
    """One resource the program registered (custom resource or component)."""

    type: str
    name: str
    urn: str
    id: str  # the mock's physical id; "" for components
    parent: str | None
    custom: bool
    # Inputs as the engine received them, camelCase keys, secrets unwrapped to their values.
    inputs: Mapping[str, Any]
    # Top-level input names whose value is (or contains) a secret.
    secret_inputs: frozenset[str]
    # Every URN the engine orders this resource after (explicit depends_on and inputs).
    dependencies: frozenset[str]
    # Dependencies from ``depends_on`` only: not explained by any input.
    explicit_dependencies: frozenset[str]
    ignore_changes: tuple[str, ...]
    additional_secret_outputs: tuple[str, ...]
    # ``replace_with``: replaced whenever one of these URNs is replaced.
    replace_with: frozenset[str] = frozenset()
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    # Each alias as the engine received it (spec fields: name, type, parentUrn, noParent, ...).
    aliases: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class StackOutput:
    """A stack export: its resolved value (secrets unwrapped) and whether it is secret."""

    value: Any
    secret: bool


@dataclass(frozen=True)
class InvokeCall:
    """A provider function the program called (e.g. ``alicloud:ecs/getImages:getImages``)."""

    token: str
    args: Mapping[str, Any]


@dataclass(frozen=True)
class PreviewResult:
    """What one offline run of the program did."""

    project: str
    stack: str
    preview: bool
    config_problems: tuple[str, ...]
    error: str | None
    resources: tuple[RegisteredResource, ...]
    outputs: Mapping[str, StackOutput]
    invokes: tuple[InvokeCall, ...]
    # (severity, message) the program logged through pulumi.log, severity e.g. "WARNING".
    messages: tuple[tuple[str, str], ...]
    encrypted_keys: tuple[str, ...] = field(default=())
    # The root pulumi:pulumi:Stack resource (the parent of top-level resources; not in resources).
    stack_urn: str = ""
    # Component URN -> the outputs it registered (secrets unwrapped).
    component_outputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.config_problems and self.error is None

    def of_type(self, type_token: str) -> tuple[RegisteredResource, ...]:
        return tuple(r for r in self.resources if r.type == type_token)

    def by_urn(self, urn: str) -> RegisteredResource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise KeyError(urn)
