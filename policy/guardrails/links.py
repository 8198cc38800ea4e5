"""How one resource is tied to another in a stack: dependency, parent, or reference.

The engine gives policies dependency URNs; the mocks runner gives inputs that hold
the other resource's id or address. Either is enough to call two resources linked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from .model import Resource, peek

STACK_TYPE = "pulumi:pulumi:Stack"
# Outputs of one resource that another one typically consumes as an input (`ipAddress`: an
# EIP's address, e.g. the host an SshdHardening connects to).
REFERENCE_KEYS = ("id", "publicIp", "instanceId", "ipAddress")


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    if depth > 4:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key in value:
            if key != "__provider":  # a pickled provider, never a reference
                yield from _strings(peek(value, key), depth + 1)
    elif isinstance(value, Sequence):
        for index in range(len(value)):
            try:
                item = value[index]
            except Exception:  # unknown element during preview
                continue
            yield from _strings(item, depth + 1)


def references(source: Resource, target: Resource) -> bool:
    """True when `source` depends on, is a child of, or holds an id/address of `target`."""
    target_urn = target.get("urn")
    if target_urn and (
        target_urn in (source.get("dependencies") or ()) or source.get("parent") == target_urn
    ):
        return True
    wanted = {v for k in REFERENCE_KEYS if isinstance(v := peek(target["props"], k), str) and v}
    return bool(wanted) and any(s in wanted for s in _strings(source["props"]))


def component_parent(res: Resource, by_urn: Mapping[str, Resource]) -> str | None:
    """The URN of the enclosing component, or None when parented to the stack."""
    parent = res.get("parent")
    if not parent:
        return None
    if parent in by_urn:
        return None if by_urn[parent]["type"] == STACK_TYPE else parent
    # The stack itself is often not in the list: recognise it by its URN.
    return None if f"::{STACK_TYPE}::" in parent else parent


def pair_up(
    wanted: Sequence[Resource],
    offered: Sequence[Resource],
    all_resources: Iterable[Resource],
    link: Callable[[Resource, Resource], bool] = references,
    sibling_fits: Callable[[Resource, Resource], bool] | None = None,
) -> list[Resource]:
    """Give each wanted resource its own offered one; return the wanted left without.

    Direct links (``link(offered, wanted)``, by default dependency, parent, reference) are
    used first; a sibling under the same component is accepted after that, one offered
    resource per wanted one, and only if ``sibling_fits(offered, wanted)`` (when given) says
    nothing known contradicts the pairing.
    """
    by_urn = {r["urn"]: r for r in all_resources if r.get("urn")}
    free = list(range(len(offered)))
    unmatched: list[Resource] = []
    pending: list[Resource] = []
    for item in wanted:
        hit = next((i for i in free if link(offered[i], item)), None)
        if hit is None:
            pending.append(item)
        else:
            free.remove(hit)
    for item in pending:
        home = component_parent(item, by_urn)
        hit = next(
            (
                i
                for i in free
                if home is not None
                and component_parent(offered[i], by_urn) == home
                and (sibling_fits is None or sibling_fits(offered[i], item))
            ),
            None,
        )
        if hit is None:
            unmatched.append(item)
        else:
            free.remove(hit)
    return unmatched
