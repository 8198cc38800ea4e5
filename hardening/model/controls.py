"""The controls catalogue (control_catalogue.json): what each control reads and what passes.

Data, not code: each control names the benchmark IDs it answers (CIS, dev-sec), its CIS level,
one or more checks, and whether our `baseline` profile enforces it (and why not, when not).
`load_catalogue` refuses a malformed catalogue, so a typo fails every test at once.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

CATALOGUE_FILE = "control_catalogue.json"

# What each check's `test` means (control_eval implements them) and whether it reads files.
SSHD_TESTS = ("equals", "one_of", "not", "between", "none_of", "max_startups", "any_set")
FILE_TESTS = ("mode_owner",)
# Which files a file check may name besides an absolute path.
FILE_SETS = ("private-host-keys", "public-host-keys")


@dataclass(frozen=True)
class Check:
    read: str  # "sshd" (a value `sshd -T` prints) or "file" (a file's mode and owner)
    test: str
    keys: tuple[str, ...] = ()  # sshd: lower-case `sshd -T` keys
    path: str = ""  # file: an absolute path or one of FILE_SETS
    value: Any = None
    absent_passes: bool = False  # sshd: a key this sshd does not print (built without it)


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    level: int | None  # CIS server level (1, 2); None: dev-sec only
    ids: dict[str, str]  # source name -> benchmark ID ("cis_debian12" -> "5.1.20")
    checks: tuple[Check, ...]
    enforced: bool  # does `baseline` set what passes?
    why: str = ""  # when not enforced: why not

    @property
    def benchmark_ids(self) -> list[str]:
        """`source:ID` strings, in the catalogue's order of sources."""
        return [f"{src}:{ident}" for src, ident in self.ids.items()]


@dataclass(frozen=True)
class Catalogue:
    sources: dict[str, dict[str, str]]  # name -> {"benchmark": title, "from": where looked up}
    controls: tuple[Control, ...]


class CatalogueError(ValueError):
    """The catalogue file is malformed (a bug in the repository, not in the user's input)."""


def _check(control_id: str, raw: dict[str, Any]) -> Check:
    read, test = raw.get("read"), raw.get("test")
    if read == "sshd" and test in SSHD_TESTS and raw.get("keys"):
        return Check(
            read="sshd",
            test=test,
            keys=tuple(k.lower() for k in raw["keys"]),
            value=raw.get("value"),
            absent_passes=bool(raw.get("absent_passes", False)),
        )
    path = str(raw.get("path", ""))
    if read == "file" and test in FILE_TESTS and (path.startswith("/") or path in FILE_SETS):
        return Check(read="file", test=test, path=path, value=raw.get("value"))
    raise CatalogueError(f"{CATALOGUE_FILE}: control {control_id}: bad check {raw!r}")


def parse_catalogue(data: dict[str, Any]) -> Catalogue:
    sources = data["sources"]
    controls: list[Control] = []
    seen: set[str] = set()
    for raw in data["controls"]:
        cid = raw["id"]
        if cid in seen:
            raise CatalogueError(f"{CATALOGUE_FILE}: control {cid} appears twice")
        seen.add(cid)
        unknown = set(raw["ids"]) - set(sources)
        if unknown:
            raise CatalogueError(f"{CATALOGUE_FILE}: control {cid}: unknown sources {unknown}")
        if not raw["enforced"] and not raw.get("why"):
            raise CatalogueError(f"{CATALOGUE_FILE}: control {cid} is not enforced: say why")
        controls.append(
            Control(
                id=cid,
                title=raw["title"],
                level=raw["level"],
                ids=dict(raw["ids"]),
                checks=tuple(_check(cid, c) for c in raw["checks"]),
                enforced=bool(raw["enforced"]),
                why=raw.get("why", ""),
            )
        )
    return Catalogue(sources=dict(sources), controls=tuple(controls))


@functools.cache
def load_catalogue() -> Catalogue:
    text = resources.files("hardening.model").joinpath(CATALOGUE_FILE).read_text()
    return parse_catalogue(json.loads(text))
