"""Print the project's stacks, one per `Pulumi.<stack>.yaml`, as a JSON list.

The workflows build their job matrices from this, so adding a stack file adds the
stack to PR previews, deployments and the drift check with no workflow edit.

    python3 scripts/list_stacks.py [--project-dir DIR] [--exclude STACK ...]

Standard library only: it runs before any dependency is installed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

STACK_FILE = re.compile(r"Pulumi\.([A-Za-z0-9_.-]+)\.yaml")


def stack_names(project_dir: Path, exclude: Sequence[str] = ()) -> list[str]:
    names = []
    for path in sorted(project_dir.glob("Pulumi.*.yaml")):
        match = STACK_FILE.fullmatch(path.name)
        # Names are used in job names and concurrency groups: only a safe charset.
        if match and match.group(1) not in exclude:
            names.append(match.group(1))
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="List the project's stacks as JSON.")
    parser.add_argument("--project-dir", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--exclude", action="append", default=[], metavar="STACK")
    args = parser.parse_args(argv)
    print(json.dumps(stack_names(args.project_dir, args.exclude)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
