"""One run of the Pulumi program under mocks, in a process of its own (bench/run.py times it).

`python -m bench.preview_once STACK_FILE INSTANCE_COUNT` prints one JSON object: ok, the number
of resources and servers, and the seconds spent importing the offline runner and inside
`run_offline_preview` (the program's own imports happen there, on its first run).
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or not args[1].isdigit():
        print("usage: python -m bench.preview_once STACK_FILE INSTANCE_COUNT", file=sys.stderr)
        return 2
    stack_file, count = Path(args[0]), int(args[1])
    warnings.simplefilter("ignore", DeprecationWarning)  # pulumi_alicloud's own, every run
    started = time.perf_counter()
    from tools.offline_preview import run_offline_preview

    imported = time.perf_counter()
    result = run_offline_preview(stack_file, ROOT, config={"instanceCount": count})
    finished = time.perf_counter()
    servers = result.outputs["servers"].value if "servers" in result.outputs else {}
    print(
        json.dumps(
            {
                "ok": result.ok,
                "resources": len(result.resources),
                "servers": len(servers) if isinstance(servers, dict) else -1,
                "import_seconds": round(imported - started, 4),
                "program_seconds": round(finished - imported, 4),
                "config_problems": list(result.config_problems),
                "error": result.error,
            }
        )
    )
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
