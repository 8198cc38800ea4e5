"""A stack's configuration as the Pulumi engine hands it to the program: Pulumi.yaml's
project-level values and defaults, the stack file's values, and which keys are secret or
encrypted (ciphertext cannot be read offline)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml


class _PulumiYamlLoader(yaml.SafeLoader):
    """YAML as the Pulumi CLI reads it: only true/false are booleans (``no`` stays a string)."""


_PulumiYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PulumiYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        # A SafeLoader subclass: no arbitrary objects.
        data = yaml.load(handle, Loader=_PulumiYamlLoader)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping at the top level")
    return data


def as_config_string(value: Any) -> str:
    # The engine hands strings over as they are and everything else as JSON.
    return value if isinstance(value, str) else json.dumps(value)


def is_encrypted(value: Any) -> bool:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return True
        return any(is_encrypted(v) for v in value.values())
    if isinstance(value, list):
        return any(is_encrypted(v) for v in value)
    return False


def full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def stack_name(stack_file: Path) -> str:
    match = re.fullmatch(r"Pulumi\.(.+)\.ya?ml", stack_file.name)
    if not match:
        raise ValueError(f"{stack_file}: a stack file is named Pulumi.<stack>.yaml")
    return match.group(1)


def read_stack_files(
    stack_file: Path, project_dir: Path
) -> tuple[str, str, dict[str, str], set[str], tuple[str, ...]]:
    """(project, stack, config, secret keys, encrypted keys), as the engine would pass them."""
    project_file = project_dir / "Pulumi.yaml"
    project_doc = read_yaml(project_file)
    project = project_doc.get("name")
    if not isinstance(project, str):
        raise ValueError(f"{project_file}: no project name")

    config: dict[str, str] = {}
    secret_keys: set[str] = set()
    # Project-level values and schema defaults apply unless the stack sets the key.
    for key, decl in (project_doc.get("config") or {}).items():
        full = full_key(project, key)
        if isinstance(decl, dict) and ("default" in decl or "value" in decl):
            config[full] = as_config_string(decl.get("value", decl.get("default")))
        elif not isinstance(decl, dict):
            config[full] = as_config_string(decl)

    encrypted: list[str] = []
    for key, value in (read_yaml(stack_file).get("config") or {}).items():
        full = full_key(project, key)
        if is_encrypted(value):
            # Ciphertext is useless offline: treat the key as unset, but say so.
            config.pop(full, None)
            secret_keys.add(full)
            encrypted.append(full)
            continue
        config[full] = as_config_string(value)
    stack = stack_name(stack_file)
    # The CLI refuses a stack that lacks a key Pulumi.yaml declares without a default.
    missing = [
        key
        for key, decl in (project_doc.get("config") or {}).items()
        if isinstance(decl, dict)
        and "default" not in decl
        and "value" not in decl
        and full_key(project, key) not in config
        and full_key(project, key) not in secret_keys
    ]
    if missing:
        raise ValueError(
            f"Stack '{stack}' is missing configuration values {', '.join(sorted(missing))}: "
            f"the Pulumi CLI refuses to run it. Set them in {stack_file.name}, or give them a "
            f"default in {project_file.name}"
        )
    return project, stack, config, secret_keys, tuple(encrypted)
