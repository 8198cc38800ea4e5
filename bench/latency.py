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
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.delayline import DelayLine, measured_rtt
from bench.measure import BenchError, ProcessSample, run_process

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "peers"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Over a real link: round trips (issue 12)"
IMAGE = "trixie-cloudinit"  # the one image with python3, which Ansible's modules need
ADMIN = "ops"
RTTS = (0.0, 0.05, 0.15)
FLEET_RTT = 0.15

# Goals from issue 12.
GOAL_FRESH_RT, GOAL_FRESH_X_NAIVE, GOAL_NOOP_RT, GOAL_FRESH_150 = 25.0, 1.2, 8.0, 4.5


@dataclass
class Figures:
    """tool -> step -> rtt -> wall seconds (every run), plus counts from --json."""

    wall: dict[str, dict[str, dict[float, list[float]]]] = field(default_factory=dict)
    counts: dict[str, dict[str, list[tuple[int, int]]]] = field(default_factory=dict)
    measured: dict[float, list[float]] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)

    def add(self, tool: str, step: str, rtt: float, sample: ProcessSample) -> None:
        self.wall.setdefault(tool, {}).setdefault(step, {}).setdefault(rtt, []).append(sample.wall)

    def median(self, tool: str, step: str, rtt: float) -> float:
        return float(statistics.median(self.wall[tool][step][rtt]))

    def slope(self, tool: str, step: str) -> tuple[float, float]:
        """(round trips, seconds at zero RTT): least squares of median wall over measured RTT."""
        xs = [statistics.median(self.measured[r]) for r in RTTS]
        ys = [self.median(tool, step, r) for r in RTTS]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        k = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mx) ** 2 for x in xs
        )
        return k, my - k * mx


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _host_known_hosts(host: object, address: str, path: Path) -> Path:
    root: Path = host.root  # type: ignore[attr-defined]
    lines = [
        f"{address} {' '.join(p.read_text().split()[:2])}\n"
        for p in sorted((root / "etc/ssh").glob("ssh_host_*_key.pub"))
    ]
    path.write_text("".join(lines))
    return path


@dataclass
class Bench:
    python: str
    bench_venv: Path
    runs: int
    work: Path
    key: Path
    line: DelayLine
    engine: Path = ROOT  # where `python -m hardening` is imported from (--engine)
    before: Path | None = None  # the --before REF tree, measured as BEFORE
    figures: Figures = field(default_factory=Figures)

    def _run(
        self, argv: Sequence[str], env: dict[str, str] | None = None, engine: Path | None = None
    ) -> ProcessSample:
        tree = engine or self.engine
        full = dict(os.environ, **(env or {}))
        full["PYTHONPATH"] = f"{tree}:{ROOT}"
        return run_process(self.line.command(argv), cwd=tree, env=full, timeout=300)

    def fresh_host(self) -> tuple[object, str, Path]:
        from tests.testhosts.machine import SystemdHost
        from tests.testhosts.rootfs import Image

        pub = Path(f"{self.key}.pub").read_text()
        host = SystemdHost(Image("trixie", cloud_init=True), authorized_keys=[pub])
        host.start()
        assert host.init_pid is not None
        address = self.line.attach(host.init_pid)
        kh = _host_known_hosts(host, address, self.work / f"known_hosts-{address}")
        return host, address, kh

    def ours(self, address: str, kh: Path, rtt: float, n: int, tool: str = "hardened-ecs") -> None:
        engine = self.before if tool == BEFORE else self.engine

        def cli(action: str, user: str) -> tuple[ProcessSample, dict[str, object]]:
            argv = [self.python, "-m", "hardening", action, "--host", address, "--user", user]
            argv += ["--identity", str(self.key), "--known-hosts", str(kh), "--json"]
            s = self._run(argv, engine=engine)
            try:
                report = json.loads(s.stdout)
            except ValueError:
                raise BenchError("no JSON from " + s.describe()) from None
            return s, report

        parts = []
        for step, action, user, code in (
            ("fresh", "apply", "root", 0),
            ("noop", "apply", ADMIN, 0),
            ("check", "check", ADMIN, 0),
        ):
            s, r = cli(action, user)
            if s.exit_code != code or r.get("error"):
                raise BenchError(f"{tool} {step}: " + s.describe())
            if step != "check" and r.get("changed") != (step == "fresh"):
                raise BenchError(f"{tool} {step}: changed={r.get('changed')}")
            self.figures.add(tool, step, rtt, s)
            pair = (int(r["connections"]), int(r["commands"]))  # type: ignore[call-overload]
            self.figures.counts.setdefault(tool, {}).setdefault(step, []).append(pair)
            parts.append(f"{step} {s.wall:.2f} s ({pair[0]} conn, {pair[1]} cmd)")
        head = f"rtt {rtt * 1000:.0f} ms run {n}: {tool} "
        self.figures.samples.append(head + ", ".join(parts))

    def peer(self, tool: str, address: str, kh: Path, rtt: float, n: int) -> None:
        parts = []
        for step in ("fresh", "noop"):
            argv, env = self._peer_argv(tool, address, kh)
            s = self._run(argv, env)
            if s.exit_code != 0:
                raise BenchError(f"{tool} {step}: " + s.describe())
            self.figures.add(tool, step, rtt, s)
            parts.append(f"{step} {s.wall:.2f} s")
        self.figures.samples.append(f"rtt {rtt * 1000:.0f} ms run {n}: {tool} " + ", ".join(parts))

    def _peer_argv(self, tool: str, address: str, kh: Path) -> tuple[list[str], dict[str, str]]:
        bin_ = self.bench_venv / "bin"
        if tool == "naive":
            return [self.python, "-m", "bench.peers.naive", address, str(self.key), str(kh)], {}
        if tool == "pyinfra":
            return [
                str(bin_ / "pyinfra"), address, str(PEERS / "pyinfra_deploy.py"), "-y",
                "--ssh-user", "root", "--ssh-key", str(self.key),
                "--data", f"ssh_known_hosts_file={kh}",
            ], {}  # fmt: skip
        inventory = self.work / f"inventory-{address}.ini"
        inventory.write_text(
            f"{address} ansible_user=root ansible_ssh_private_key_file={self.key} "
            f"ansible_python_interpreter=/usr/bin/python3\n"
        )
        env = {
            "ANSIBLE_SSH_ARGS": f"-o UserKnownHostsFile={kh} -o ControlMaster=auto "
            "-o ControlPersist=60s",
            "ANSIBLE_LOCAL_TEMP": str(self.work / "ansible-tmp"),
            "ANSIBLE_CONTROL_PATH_DIR": str(self.work / "ansible-cp"),
            "ANSIBLE_NOCOLOR": "1",
            "PATH": f"{bin_}:{os.environ.get('PATH', '')}",
        }
        playbook = PEERS / "ansible_playbook.yml"
        return [str(bin_ / "ansible-playbook"), "-i", str(inventory), str(playbook)], env


TOOLS = ("hardened-ecs", "naive", "pyinfra", "ansible")
BEFORE = "hardened-ecs before"  # the engine of --before REF, beside today's


def measure_fleet(b: Bench, size: int, rtt: float, progress: Callable[[str], None] = _say) -> None:
    """Fleet mode at `rtt`: one host alone, then `size` others at once (--parallel size).

    Lightweight chroot hosts (tests/testhosts/chroot.py, sshd on 127.0.0.1) behind the delaying TCP
    relay: 50 systemd-booted hosts are too heavy for this machine."""
    from bench.run import make_hostname_resolvable
    from bench.tcprelay import TcpRelay
    from tests.testhosts.chroot import TestHost

    hosts: list[TestHost] = []
    try:
        for _ in range(1 + size):
            host = TestHost("bookworm", authorized_keys=[b.key])
            hosts.append(host)
            host.start()
            make_hostname_resolvable(host)
        with TcpRelay(rtt) as relay:
            ports = [relay.forward(h.port) for h in hosts]
            kh = b.work / f"known_hosts-fleet-{size}"
            kh.write_text(
                "".join(
                    f"[127.0.0.1]:{port} {line}\n"
                    for h, port in zip(hosts, ports, strict=True)
                    for line in h.host_public_keys().values()
                )
            )
            for label, group in (("fleet1", ports[:1]), (f"fleet{size}", ports[1:])):
                inv = b.work / f"inventory-{label}.yaml"
                inv.write_text(
                    json.dumps(
                        {
                            "defaults": {
                                "user": "root",
                                "identity": str(b.key),
                                "known_hosts": str(kh),
                                "admin_user": ADMIN,
                            },
                            "hosts": [{"host": "127.0.0.1", "port": p} for p in group],
                        }
                    )
                )
                argv = [b.python, "-m", "hardening", "apply", "--inventory", str(inv)]
                argv += ["--parallel", str(len(group)), "--json"]
                env = dict(os.environ, PYTHONPATH=f"{b.engine}:{ROOT}")
                s = run_process(argv, cwd=b.engine, env=env, timeout=600)
                reports = json.loads(s.stdout) if s.stdout.strip().startswith("[") else []
                bad = [r for r in reports if r.get("error") or not r.get("compliant")]
                if s.exit_code != 0 or len(reports) != len(group) or bad:
                    raise BenchError(f"fleet of {len(group)}: " + s.describe())
                b.figures.add("hardened-ecs", label, rtt, s)
                b.figures.samples.append(
                    f"rtt {rtt * 1000:.0f} ms (TCP relay): fleet apply, {len(group)} host(s) "
                    f"{s.wall:.2f} s, CPU {s.cpu:.2f} s CLI"
                )
                progress(f"  {b.figures.samples[-1]}")
    finally:
        for h in hosts:
            h.stop()


def run_all(b: Bench, tools: Sequence[str], progress: Callable[[str], None] = _say) -> None:
    for rtt in RTTS:
        b.line.rtt = rtt
        for n in range(1, b.runs + 1):
            for tool in tools:
                host, address, kh = b.fresh_host()
                try:
                    got = measured_rtt(b.line, address)
                    b.figures.measured.setdefault(rtt, []).append(got)
                    if tool in ("hardened-ecs", BEFORE):
                        b.ours(address, kh, rtt, n, tool)
                    else:
                        b.peer(tool, address, kh, rtt, n)
                    progress(f"  {b.figures.samples[-1]} (measured RTT {got * 1000:.1f} ms)")
                finally:
                    host.stop()  # type: ignore[attr-defined]
                    b.line.detach(address)


def report(f: Figures, tools: Sequence[str]) -> list[str]:
    """The markdown section: table, round trips, goals."""
    ms = [f"{statistics.median(f.measured.get(r, [r])) * 1000:.1f}" for r in RTTS]
    head = "| tool | step | " + " | ".join(f"{m} ms" for m in ms) + " | round trips | at 0 RTT |"
    out = [head, "|---|---|" + "---:|" * (len(RTTS) + 2)]
    rt: dict[tuple[str, str], float] = {}
    for tool in tools:
        for step in [s for s in f.wall.get(tool, {}) if not s.startswith("fleet")]:
            k, a = f.slope(tool, step)
            rt[(tool, step)] = k
            cells = [f"{f.median(tool, step, r):.2f} s" for r in RTTS]
            out.append(f"| {tool} | {step} | " + " | ".join(cells) + f" | {k:.1f} | {a:.2f} s |")
    out.append("")
    for tool in ("hardened-ecs", BEFORE):
        for step, pairs in f.counts.get(tool, {}).items():
            c = ", ".join(
                f"{conns} connection(s), {cmds} command(s)" for conns, cmds in sorted(set(pairs))
            )
            out.append(f"- {tool} {step}: {c} (--json)")
    out.append("")
    if any(t == BEFORE for t, _ in rt):
        steps = [st for t, st in rt if t == BEFORE and ("hardened-ecs", st) in rt]
        out.append(
            "- round trips, before -> after: "
            + ", ".join(
                f"{st} {rt[(BEFORE, st)]:.1f} -> {rt[('hardened-ecs', st)]:.1f}" for st in steps
            )
        )
    goals: list[tuple[str, bool | None]] = []
    fresh = rt.get(("hardened-ecs", "fresh"))
    naive = rt.get(("naive", "fresh"))
    if fresh is not None:
        goals.append((f"fresh apply ≤ {GOAL_FRESH_RT:g} round trips: {fresh:.1f}", fresh <= 25))
        top = f.median("hardened-ecs", "fresh", RTTS[-1])
        goals.append((f"fresh apply at 150 ms ≤ {GOAL_FRESH_150} s: {top:.2f} s", top <= 4.5))
    if fresh is not None and naive is not None:
        x = fresh / naive
        goals.append((f"fresh apply ≤ 1.2x the naive floor's round trips: {x:.2f}x", x <= 1.2))
        t = f.median("hardened-ecs", "fresh", RTTS[-1]) / f.median("naive", "fresh", RTTS[-1])
        out.append(f"- fresh apply at 150 ms, wall time vs the naive floor: {t:.2f}x")
    for step in ("noop", "check"):
        v = rt.get(("hardened-ecs", step))
        if v is not None:
            goals.append((f"{step} ≤ {GOAL_NOOP_RT:g} round trips: {v:.1f}", v <= GOAL_NOOP_RT))
    fleets = sorted(s for s in f.wall.get("hardened-ecs", {}) if s.startswith("fleet"))
    if "fleet1" in fleets and len(fleets) == 2:
        big = next(s for s in fleets if s != "fleet1")
        one, many = (
            f.median("hardened-ecs", "fleet1", FLEET_RTT),
            f.median("hardened-ecs", big, FLEET_RTT),
        )
        n = big.removeprefix("fleet")
        out.append(
            f"- fleet apply at {FLEET_RTT * 1000:.0f} ms (TCP relay, chroot hosts): 1 host "
            f"{one:.2f} s, {n} hosts {many:.2f} s"
        )
        goals.append(
            (f"fleet of {n} at 150 ms ≤ 1.5x one host: {many / one:.2f}x", many / one <= 1.5)
        )
    out.append("")
    out.append("Goals (issue 12):")
    out.append("")
    out += [f"- {'PASS' if ok else 'MISS'}: {text}" for text, ok in goals]
    return out


def write_section(
    path: Path, lines: Sequence[str], samples: Sequence[str], settings: Sequence[str]
) -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    text = text.split("\n" + SECTION, 1)[0].rstrip() + "\n\n"
    body = [SECTION, "", *settings, "", *lines, "", "Every sample:", "", "```", *samples, "```", ""]
    path.write_text(text + "\n".join(body))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__)
    p.add_argument("--runs", type=int, default=2, help="runs per tool and RTT (default 2)")
    p.add_argument("--tools", default=",".join(TOOLS), help="comma-separated: " + ",".join(TOOLS))
    p.add_argument("--bench-venv", default=os.environ.get("BENCH_VENV", "venv"))
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
