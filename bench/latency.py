"""`make bench`, part 2 (issue 12): round trips. Fresh / no-op / check over 0, 50 and 150 ms RTT.

Every tool hardens a fresh systemd-booted test host (tests/testhosts/, its own network
namespace) reached only through a packet delay line (bench/delayline.py): hardened-ecs's CLI,
the naive floor (bench/peers/naive.py), pyinfra and a small Ansible playbook (bench/peers/, the
tools from bench/requirements.txt in BENCH_VENV). Effective round trips are the slope of the
median wall time over the measured RTT (least squares over the RTTs); the intercept is what
does not scale with distance (CPU, sshd's own work). Appends its section to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.delayline import DelayLine
from bench.latency_report import BEFORE, FLEET_RTT, report, write_section
from bench.latency_scenarios import ROOT, TOOLS, Bench, measure_fleet, run_all
from bench.measure import BenchError

RESULTS = ROOT / "bench" / "RESULTS.md"
IMAGE = "trixie-cloudinit"  # the one image with python3, which Ansible's modules need


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__)
    p.add_argument("--runs", type=int, default=3, help="runs per tool and RTT (default 3)")
    p.add_argument("--tools", default=",".join(TOOLS), help="comma-separated: " + ",".join(TOOLS))
    p.add_argument("--bench-venv", default=os.environ.get("BENCH_VENV", "venv-bench"))
    p.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md")
    p.add_argument(
        "--engine",
        default=str(ROOT),
        help="a tree whose hardening/ package to measure (an older commit's: before/after)",
    )
    p.add_argument(
        "--before",
        metavar="REF",
        help=f"also measure the engine of this git commit, as '{BEFORE}' (before/after)",
    )
    p.add_argument("--fleet", type=int, default=50, help="fleet size at 150 ms (0: none)")
    p.add_argument("--line", type=int, default=200, help="delay line number (10.233.N.x)")
    p.add_argument("--output", default=str(RESULTS), help="the markdown file to write")
    a = p.parse_args(argv)
    tools = [t for t in a.tools.split(",") if t]
    if unknown := set(tools) - set(TOOLS):
        p.error(f"--tools: unknown {sorted(unknown)}; choose from {', '.join(TOOLS)}")
    venv = Path(a.bench_venv)
    for tool, exe in (("pyinfra", "pyinfra"), ("ansible", "ansible-playbook")):
        if tool in tools and not (venv / "bin" / exe).exists():
            p.error(f"{tool}: no {venv}/bin/{exe}; `make bench` installs bench/requirements.txt")
    if shutil.which("ip") is None or os.geteuid() != 0:
        p.error("the latency benchmark needs root and iproute2 (namespaces, TUN devices)")
    # Our own addresses and bridge names (hecsl, 10.233.x), apart from the test suites'.
    os.environ.setdefault("HARDENED_ECS_NET_DIR", "/run/hardened-ecs/net-hecsl")
    os.environ.setdefault("HARDENED_ECS_NET_OCTET", "233")
    os.environ.setdefault("HARDENED_ECS_BRIDGE_PREFIX", "hecsl")
    with tempfile.TemporaryDirectory(prefix="hecsl-bench-") as tmp, DelayLine(a.line) as line:
        work = Path(tmp)
        key = work / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f", str(key)], check=True)
        b = Bench(sys.executable, venv, a.runs, work, key, line, Path(a.engine).resolve())
        if a.before:
            b.before = work / "before"
            b.before.mkdir()
            archive = subprocess.run(
                ["git", "archive", a.before, "hardening"], cwd=ROOT, capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(b.before)], input=archive, check=True)
            tools.insert(1, BEFORE)
        try:
            run_all(b, tools)
            if a.fleet:
                measure_fleet(b, a.fleet, FLEET_RTT)
        except BenchError as exc:
            print(f"bench.latency: a measured command failed:\n{exc}", file=sys.stderr)
            return 1
    lines = report(b.figures, tools)
    print("\n".join(lines))
    load = Path("/proc/loadavg").read_text().split()[:3]
    settings = [
        f"Test hosts: Debian {IMAGE} booted by systemd-nspawn, each in its own network "
        "namespace, fresh for every tool and run; reached only through a userspace packet "
        "delay line (TUN devices, RTT/2 each way). RTT measured as the TCP connect time.",
        f"Engine measured: {b.engine}. Runs per tool and RTT: {a.runs}; medians shown. "
        "The machine's 2 cores were shared with other work (load average at the end: "
        + " ".join(load)
        + ").",
    ]
    if a.before:
        settings.append(f"`{BEFORE}`: the engine of commit {a.before}, in the same run.")
    if a.fleet:
        settings.append(
            f"Fleet: {a.fleet} + 1 lightweight chroot hosts (tests/testhosts/chroot.py, sshd on "
            "127.0.0.1) behind a delaying TCP relay (bench/tcprelay.py: distance only, the "
            "relay ACKs locally), --parallel = fleet size; nspawn hosts are too heavy for 50."
        )
    if not a.no_write:
        write_section(Path(a.output), lines, b.figures.samples, settings)
        print(f"wrote {a.output}")
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
