"""Advisory: every taggable resource carries the `environment` and `owner` tags."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from functools import cache
from typing import Any

from .model import Finding, RuleContext, config_key, get

REQUIRED_TAGS = ("environment", "owner")

# Used only when pulumi_alicloud cannot be imported: the types this project creates.
KNOWN_TAGGABLE = frozenset(
    {
        "alicloud:vpc/network:Network",
        "alicloud:vpc/switch:Switch",
        "alicloud:ecs/securityGroup:SecurityGroup",
        "alicloud:ecs/ecsKeyPair:EcsKeyPair",
        "alicloud:ecs/instance:Instance",
        "alicloud:ecs/eipAddress:EipAddress",
    }
)


@cache
def is_taggable(resource_type: str) -> bool:
    """True when the provider's resource class has a `tags` input.

    Asking the SDK itself keeps the rule right for resource types this project
    does not use yet, instead of a list that silently goes stale.
    """
    parts = resource_type.split(":")
    if len(parts) != 3 or parts[0] != "alicloud":
        return False
    module_name, class_name = parts[1].split("/")[0], parts[2]
    try:
        with warnings.catch_warnings():  # the SDK warns about its deprecated resources
            warnings.simplefilter("ignore", DeprecationWarning)
            # `index` is the token module of resources at the package root.
            package = "pulumi_alicloud" + ("" if module_name == "index" else f".{module_name}")
            module = importlib.import_module(package)
            cls = getattr(module, class_name)
    except (ImportError, AttributeError):
        return resource_type in KNOWN_TAGGABLE
    return isinstance(getattr(cls, "tags", None), property)


def check_tags(resource_type: str, props: Mapping[str, Any], ctx: RuleContext) -> list[Finding]:
    if not is_taggable(resource_type):
        return []
    tags = get(props, "tags")
    present = {k for k in tags if get(tags, k)} if isinstance(tags, Mapping) else set()
    missing = [t for t in REQUIRED_TAGS if t not in present]
    if not missing:
        return []
    return [
        Finding(
            f"missing tag(s) {', '.join(missing)} (every resource needs "
            f"{' and '.join(REQUIRED_TAGS)})",
            config_key=config_key("tags"),
        )
    ]
