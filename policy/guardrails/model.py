"""Plain data the rules work on: a resource as a dict, a finding, a context."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, Required, TypedDict

PROJECT = "hardened-ecs"

# Pulumi's placeholders for values not known until the resource exists (preview).
UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
    }
)

Level = Literal["mandatory", "advisory"]


class Resource(TypedDict):
    """One registered resource, as the engine or the mocks runner shows it."""

    type: Required[str]
    props: Required[Mapping[str, Any]]
    name: NotRequired[str]
    urn: NotRequired[str]
    parent: NotRequired[str | None]  # URN of the parent resource
    dependencies: NotRequired[Sequence[str]]  # URNs this resource depends on


@dataclass(frozen=True)
class Finding:
    """One violation: what is wrong, on which resource, and which config key fixes it."""

    message: str
    urn: str | None = None
    config_key: str | None = None


@dataclass(frozen=True)
class RuleContext:
    """What a rule may need besides the resource itself."""

    stack: str = ""
    ssh_ports: frozenset[int] = field(default_factory=lambda: frozenset({22}))


def config_key(key: str) -> str:
    return f"{PROJECT}:{key}"


def get(props: Mapping[str, Any], key: str) -> Any:
    """Read a property a rule judges; None when absent or an unknown placeholder.

    In the engine, `props` is pulumi-policy's proxy, which raises on unknown values
    during preview; that is left to propagate so the engine reports the policy as
    not checkable yet instead of passing it silently.
    """
    value = props.get(key)
    if isinstance(value, str) and value in UNKNOWN_SENTINELS:
        return None
    return value


def peek(props: Mapping[str, Any], key: str) -> Any:
    """Like `get`, but None for a value the proxy refuses: for searching links only."""
    try:
        return get(props, key)
    except Exception:  # pulumi_policy.proxy.UnknownValueError; kept SDK-free here
        return None


def stack_of_urn(urn: str) -> str:
    """`urn:pulumi:STACK::PROJECT::TYPE::NAME` -> STACK ('' when not a URN)."""
    parts = urn.split("::")
    head = parts[0].split(":")
    return head[2] if len(parts) >= 2 and len(head) >= 3 and head[0] == "urn" else ""


def label(res: Resource) -> str:
    return res.get("name") or res.get("urn") or res["type"]
