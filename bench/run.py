"""`make bench`: time the hardening CLI, fleet mode and the Pulumi program; write RESULTS.md.

Every CLI figure is a whole process (`python -m hardening ...` as a child: interpreter start,
imports, SSH, exit), measured over --runs runs, each on FRESH Debian bookworm test hosts
(tests/testhosts/chroot.py) that this command starts and stops itself:

- host A: fresh apply as root, then a no-op apply as the admin user (ops), then check as ops;
- host B: plan and check as root on a fresh host (read-only; check exits 1 with the drift);
- one host, then FLEET_SIZE other hosts, each fresh apply in one fleet run (--inventory);
- the Pulumi program under mocks (tools/offline_preview.py) with instanceCount 1, 10 and 50,
  one process per measurement so that every figure pays the same imports.

SSH connections and remote commands are the engine's own counters (--json `connections`,
`commands`); the SSH logins sshd accepted are counted on the server side too, from the test
host's syslog. Peak RSS is each child's own (wait4). Targets from issue 7 are printed beside
the figures with PASS/MISS. Exit 0 when the benchmark ran (targets missed or not); 1 when a
measured command failed, in which case RESULTS.md is left as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.hosts import SUITE, client_key
from bench.measure import BenchError, machine_info, run_process
from bench.report import Row, ansible_comparison, results_markdown, text_table, verdict
from bench.rows import FRESH, METHOD, NOOP, build_rows
from bench.scenarios import (
    ROOT,
    Collected,
    Settings,
    measure_fleet,
    measure_program,
    measure_read_only,
    measure_single_host,
)

DEFAULT_RESULTS = ROOT / "bench" / "RESULTS.md"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> Settings:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    p.add_argument("--fleet-size", type=int, default=8, help="hosts in the big fleet run")
    p.add_argument(
        "--instance-counts", type=int, nargs="+", default=[1, 10, 50], metavar="N",
        help="instanceCount values for the program under mocks (first and last are compared)",
    )  # fmt: skip
    p.add_argument(
        "--quick", action="store_true",
        help="smoke run: 1 run, a fleet of 2, instanceCount 1 and 10 (not for RESULTS.md)",
    )  # fmt: skip
    p.add_argument("--output", type=Path, default=DEFAULT_RESULTS, help="RESULTS.md to write")
    p.add_argument("--json-output", type=Path, help="also write the rows as JSON here")
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.fleet_size, args.instance_counts = 1, 2, [1, 10]
    if args.runs < 1 or args.fleet_size < 1 or len(args.instance_counts) < 2:
        p.error("--runs and --fleet-size must be >= 1, and give at least two instance counts")
    if args.instance_counts != sorted(set(args.instance_counts)) or args.instance_counts[0] < 1:
        p.error("--instance-counts: distinct positive numbers, ascending")
    return Settings(
        runs=args.runs,
        fleet_size=args.fleet_size,
        instance_counts=tuple(args.instance_counts),
        output=args.output,
        json_output=args.json_output,
        python=sys.executable,
    )


def _warm_up(python: str) -> None:
    sample = run_process(
        [python, "-c", "import hardening.ops.engine, hardening.front.fleet, tools.offline_preview"],
        cwd=ROOT,
    )
    if sample.exit_code != 0:
        raise BenchError("cannot import the code under test: " + sample.describe())


@dataclass(frozen=True)
class Outcome:
    rows: list[Row]
    openssh: str  # the test hosts' sshd, e.g. 9.2p1
    samples: list[str]
    load: str  # load averages before -> after


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def run_all(s: Settings, progress: Callable[[str], None] = _say) -> Outcome:
    """Every measurement, as table rows plus every raw sample."""
    c = Collected()
    version = "unknown"
    load_before = _loadavg()
    _warm_up(s.python)
    with tempfile.TemporaryDirectory(prefix="hardened-ecs-bench-") as tmp:
        work = Path(tmp)
        key = client_key(work)
        for n in range(1, s.runs + 1):
            progress(f"run {n}/{s.runs}: single host (fresh apply, no-op apply, check)")
            version = measure_single_host(n, s, key, work, c)
            progress(f"  {c.samples[-1]}")
            progress(f"run {n}/{s.runs}: plan and check on a fresh host")
            measure_read_only(n, s, key, work, c)
            progress(f"  {c.samples[-1]}")
            progress(f"run {n}/{s.runs}: fleet of 1, then of {s.fleet_size}")
            measure_fleet(n, s, key, work, c)
            progress(f"  {c.samples[-2]}\n  {c.samples[-1]}")
            progress(f"run {n}/{s.runs}: program under mocks {s.instance_counts}")
            measure_program(n, s, c)
            progress(f"  {c.samples[-1]}")
    return Outcome(build_rows(s, c), version, c.samples, f"{load_before} -> {_loadavg()}")


def main(argv: Sequence[str] | None = None) -> int:
    s = parse_args(argv)
    try:
        outcome = run_all(s)
    except BenchError as exc:
        print(f"bench: a measured command failed, {s.output} left as it was:\n{exc}",
              file=sys.stderr)  # fmt: skip
        return 1
    rows = outcome.rows
    machine = machine_info(ROOT, f"OpenSSH_{outcome.openssh} (Debian {SUITE})")
    machine["load average 1/5/15 min, before -> after"] = outcome.load
    by_label = {r.label: r for r in rows}
    comparison = ansible_comparison(by_label, FRESH, NOOP)
    table = text_table(rows)
    met, checked = verdict(rows)
    print(table)
    print()
    for line in comparison:
        print(line)
    print(f"targets met: {met} of {checked}; machine: {machine['cpu']}, {machine['cores']}")
    s.output.parent.mkdir(parents=True, exist_ok=True)
    s.output.write_text(
        results_markdown(
            rows=rows,
            machine=machine,
            comparison=comparison,
            settings=s.as_text(),
            method=METHOD,
            samples=outcome.samples,
        )
    )
    if s.json_output is not None:
        s.json_output.write_text(json.dumps(_as_json(rows, machine), indent=2) + "\n")
    print(f"wrote {_shown(s.output)}")
    return 0


def _as_json(rows: Sequence[Row], machine: Mapping[str, str]) -> dict[str, Any]:
    return {
        "machine": dict(machine),
        "rows": [
            {
                "label": r.label,
                "unit": r.unit,
                "values": r.values,
                "median": r.stat("median"),
                "target": r.target.text(r.unit) if r.target else None,
                "result": r.result or None,
            }
            for r in rows
        ],
    }


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(ROOT))
    return str(path)


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
