"""The on-host scripts (scripts/*.sh) as sent: their text, with their values assigned first."""

from __future__ import annotations

import shlex
from importlib import resources


def script(name: str) -> str:
    return resources.files("hardening.change").joinpath(f"scripts/{name}").read_text()


def assign(**values: object) -> str:
    return "".join(f"{k}={shlex.quote(str(v))}\n" for k, v in values.items())
