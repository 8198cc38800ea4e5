"""The inventory format as README documents it is the one hardening/inventory.py reads: the
example loads as written, and every key the loader accepts has its row in the table."""

from __future__ import annotations

import re
from pathlib import Path

from hardening.front.inventory import _HOST_KEYS, load_inventory

README = Path(__file__).resolve().parents[2] / "README.md"


def _section() -> str:
    text = README.read_text()
    start = text.index("### Inventory (`--inventory hosts.yaml`)")
    return text[start : text.index("\n##", start + 1)]


def test_the_readme_example_loads(tmp_path: Path) -> None:
    example = re.search(r"```yaml\n(.*?)```", _section(), re.S)
    assert example, "no YAML example in README's inventory section"
    path = tmp_path / "hosts.yaml"
    path.write_text(example.group(1))
    entries = load_inventory(str(path), {"port": 22, "admin_user": "ops", "set": {}})
    assert [(e.name, e.host, e.port, e.user) for e in entries] == [
        (None, "web1.example.com", 22, "root"),
        ("db", "203.0.113.20", 2222, "ops"),
        (None, "203.0.113.30", 22, "root"),
    ]
    third = entries[2].request
    assert (third.admin_user, third.adopt_admin, third.profile) == ("deploy", True, "minimal")
    assert third.overrides["MaxAuthTries"] == "4"


def test_every_key_the_loader_takes_is_documented() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", _section(), re.M))
    assert documented == _HOST_KEYS
