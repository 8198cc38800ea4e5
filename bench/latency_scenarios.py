"""The latency benchmark's measured scenarios: each tool hardening a fresh systemd-booted host
behind the delay line (bench/delayline.py), and fleet mode behind the TCP relay."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.delayline import DelayLine, measured_rtt
from bench.latency_report import BEFORE, RTTS, Figures
from bench.measure import BenchError, ProcessSample, run_process

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "peers"
ADMIN = "ops"
TOOLS = ("hardened-ecs", "naive", "pyinfra", "ansible")


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def host_known_hosts(host: object, address: str, path: Path) -> Path:
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
        kh = host_known_hosts(host, address, self.work / f"known_hosts-{address}")
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
            timeline = r.get("timeline")
            if step == "fresh" and isinstance(timeline, list):  # the --before engine has none
                self.figures.add_timeline(tool, rtt, s.wall, timeline)
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


def measure_fleet(b: Bench, size: int, rtt: float, progress: Callable[[str], None] = _say) -> None:
    """Fleet mode at `rtt`: one host alone, then `size` others at once (--parallel size).

    Lightweight chroot hosts (tests/testhosts/chroot.py, sshd on 127.0.0.1) behind the delaying TCP
    relay: 50 systemd-booted hosts are too heavy for this machine."""
    from bench.hosts import host_cpu, make_hostname_resolvable
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
                members = hosts[: len(group)] if label == "fleet1" else hosts[1:]
                cpu_before = sum(host_cpu(h) for h in members)
                s = run_process(argv, cwd=b.engine, env=env, timeout=600)
                spent = sum(host_cpu(h) for h in members) - cpu_before
                reports = json.loads(s.stdout) if s.stdout.strip().startswith("[") else []
                bad = [r for r in reports if r.get("error") or not r.get("compliant")]
                if s.exit_code != 0 or len(reports) != len(group) or bad:
                    raise BenchError(f"fleet of {len(group)}: " + s.describe())
                b.figures.add("hardened-ecs", label, rtt, s)
                b.figures.fleet_cpu.setdefault(label, []).append(s.cpu + spent)
                b.figures.samples.append(
                    f"rtt {rtt * 1000:.0f} ms (TCP relay): fleet apply, {len(group)} host(s) "
                    f"{s.wall:.2f} s, CPU {s.cpu:.2f} s CLI + {spent:.2f} s hosts"
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
