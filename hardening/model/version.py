"""The tool's name and version, read once for `--version` and the evidence reports."""

from __future__ import annotations

import functools
import importlib.metadata
import tomllib
from pathlib import Path

TOOL_NAME = "hardened-ecs"


@functools.cache
def tool_version() -> str:
    """The installed package's version, else pyproject.toml's (a source checkout)."""
    try:
        return importlib.metadata.version(TOOL_NAME)
    except importlib.metadata.PackageNotFoundError:
        pass
    for parent in Path(__file__).resolve().parents:
        pyproject = parent / "pyproject.toml"
        if pyproject.is_file():
            try:
                return str(tomllib.loads(pyproject.read_text())["project"]["version"])
            except (KeyError, tomllib.TOMLDecodeError):
                break
    return "unknown"
