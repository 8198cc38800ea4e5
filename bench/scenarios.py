"""The measured scenarios of `python -m bench.run`: each CLI command as a whole child process
on fresh test hosts (single host, read-only, fleet) and the Pulumi program under mocks, every
figure collected by row key."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.hosts import SUITE, fresh_hosts, host_cpu, sshd_logins, write_known_hosts
from bench.measure import BenchError, ProcessSample, run_process
from tests.testhosts.chroot import TestHost

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "ops"
STACK_FILE = ROOT / "Pulumi.dev.yaml"


@dataclass(frozen=True)
class Settings:
    runs: int
    fleet_size: int
    instance_counts: tuple[int, ...]
    output: Path
    json_output: Path | None
    python: str

    def as_text(self) -> dict[str, str]:
        return {
            "runs per figure": str(self.runs),
            "test hosts": f"Debian {SUITE}, fresh for every run, sshd on 127.0.0.1",
            "fleet sizes": f"1 and {self.fleet_size} hosts (--parallel default 10)",
            "instanceCount": ", ".join(map(str, self.instance_counts)) + f" ({STACK_FILE.name})",
            "CLI": f"{Path(self.python).name} -m hardening ... --json",
        }


@dataclass
class Collected:
    """Every raw figure, by row key; rows are built from it at the end."""

    values: dict[str, list[float]] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)

    def add(self, key: str, value: float) -> None:
        self.values.setdefault(key, []).append(value)


# --------------------------------------------------------------------------- the CLI


@dataclass(frozen=True)
class CliRun:
    sample: ProcessSample
    report: Any  # the --json output: one object, or a list of them in fleet mode
    host_cpu: float  # CPU seconds the test hosts spent meanwhile (sshd and what it ran)


def _cli(python: str, action: str, args: Sequence[str], hosts: Sequence[TestHost]) -> CliRun:
    before = sum(host_cpu(h) for h in hosts)
    sample = run_process([python, "-m", "hardening", action, *args, "--json"], cwd=ROOT)
    spent = sum(host_cpu(h) for h in hosts) - before
    try:
        report = json.loads(sample.stdout)
    except ValueError:
        raise BenchError("no JSON on stdout from " + sample.describe()) from None
    return CliRun(sample, report, spent)


def _expect(run: CliRun, exit_code: int, **fields: object) -> None:
    reports = run.report if isinstance(run.report, list) else [run.report]
    wrong = [
        f"{r.get('host')}:{r.get('port')} {k}={r.get(k)!r} (expected {v!r})"
        for r in reports
        for k, v in fields.items()
        if r.get(k) != v
    ]
    if run.sample.exit_code != exit_code or wrong:
        raise BenchError(
            f"expected exit {exit_code}{' and ' + '; '.join(wrong) if wrong else ''}: "
            + run.sample.describe()
        )


def _single(host: TestHost, user: str, key: Path, known_hosts: Path) -> list[str]:
    return [
        *("--host", "127.0.0.1", "--port", str(host.port), "--user", user),
        *("--identity", str(key), "--known-hosts", str(known_hosts)),
    ]


def _inventory(path: Path, hosts: Sequence[TestHost], key: Path, known_hosts: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "defaults": {
                    "user": "root",
                    "identity": str(key),
                    "known_hosts": str(known_hosts),
                    "admin_user": ADMIN,
                },
                "hosts": [{"host": "127.0.0.1", "port": h.port} for h in hosts],
            }
        )
    )
    return path


# --------------------------------------------------------------------------- one run


def measure_single_host(n: int, s: Settings, key: Path, work: Path, c: Collected) -> str:
    """Host A: fresh apply (root), no-op apply (ops), check (ops). Returns its OpenSSH."""
    with fresh_hosts(1, key) as (host,):
        kh = write_known_hosts(work / f"known_hosts-a{n}", [host])
        mark = len(host.syslog())
        fresh = _cli(s.python, "apply", _single(host, "root", key, kh), [host])
        _expect(fresh, 0, changed=True, compliant=True, error=None)
        logins = sshd_logins(host, mark)
        noop = _cli(s.python, "apply", _single(host, ADMIN, key, kh), [host])
        _expect(noop, 0, changed=False, compliant=True, error=None)
        check = _cli(s.python, "check", _single(host, ADMIN, key, kh), [host])
        _expect(check, 0, compliant=True)
        version = host.openssh_version
    for name, run in (("fresh", fresh), ("noop", noop)):
        c.add(f"{name}.wall", run.sample.wall)
        c.add(f"{name}.engine", float(run.report["seconds"]))
        c.add(f"{name}.connections", run.report["connections"])
        c.add(f"{name}.commands", run.report["commands"])
        c.add(f"{name}.rss", run.sample.max_rss_mib)
        c.add(f"{name}.cpu", run.sample.cpu)
        c.add(f"{name}.host_cpu", run.host_cpu)
    c.add("fresh.logins", logins)
    c.add("check.wall", check.sample.wall)
    c.add("check.rss", check.sample.max_rss_mib)
    c.samples.append(
        f"run {n}: fresh apply {_brief(fresh)}, sshd accepted {logins} login(s) | "
        f"no-op apply {_brief(noop)} | check {_brief(check)}"
    )
    return version


def measure_read_only(n: int, s: Settings, key: Path, work: Path, c: Collected) -> None:
    """Host B, fresh: plan and check as root (check exits 1: the drift)."""
    with fresh_hosts(1, key) as (host,):
        kh = write_known_hosts(work / f"known_hosts-b{n}", [host])
        plan = _cli(s.python, "plan", _single(host, "root", key, kh), [host])
        _expect(plan, 0, error=None)
        check = _cli(s.python, "check", _single(host, "root", key, kh), [host])
        _expect(check, 1, compliant=False, error=None)
    c.add("plan.wall", plan.sample.wall)
    c.add("check_fresh.wall", check.sample.wall)
    c.samples.append(f"run {n}: plan (fresh) {_brief(plan)} | check (fresh) {_brief(check)}")


def measure_fleet(n: int, s: Settings, key: Path, work: Path, c: Collected) -> None:
    """One fleet run over 1 fresh host, one over FLEET_SIZE other fresh hosts."""
    with fresh_hosts(1 + s.fleet_size, key) as hosts:
        kh = write_known_hosts(work / f"known_hosts-f{n}", hosts)
        for size, group in ((1, hosts[:1]), (s.fleet_size, hosts[1:])):
            inv = _inventory(work / f"inventory-{n}-{size}.yaml", group, key, kh)
            run = _cli(s.python, "apply", ["--inventory", str(inv)], group)
            _expect(run, 0, changed=True, compliant=True, error=None)
            if len(run.report) != size:
                raise BenchError(
                    f"{size} hosts, {len(run.report)} reports: " + run.sample.describe()
                )
            c.add(f"fleet{size}.wall", run.sample.wall)
            c.add(f"fleet{size}.rss", run.sample.max_rss_mib)
            c.add(f"fleet{size}.cpu", run.sample.cpu)
            c.add(f"fleet{size}.host_cpu", run.host_cpu)
            conns = sum(r["connections"] for r in run.report)
            c.samples.append(
                f"run {n}: fleet apply, {size} host(s): {run.sample.wall:.3f} s, "
                f"{run.sample.max_rss_mib:.1f} MiB, CPU {run.sample.cpu:.2f} s CLI + "
                f"{run.host_cpu:.2f} s hosts, {conns} connections in all, per host "
                + ", ".join(f"{r['seconds']:.2f}" for r in run.report)
                + " s"
            )


def measure_program(n: int, s: Settings, c: Collected) -> None:
    """The Pulumi program under mocks, one process per instance count."""
    parts = []
    for count in s.instance_counts:
        sample = run_process(
            [s.python, "-m", "bench.preview_once", str(STACK_FILE), str(count)], cwd=ROOT
        )
        try:
            out = json.loads(sample.stdout)
        except ValueError:
            raise BenchError("no JSON from " + sample.describe()) from None
        if sample.exit_code != 0 or not out["ok"] or out["servers"] != count:
            raise BenchError(f"the program under mocks failed: {sample.describe()}")
        c.add(f"program{count}.wall", sample.wall)
        c.add(f"program{count}.inside", out["program_seconds"])
        c.add(f"program{count}.rss", sample.max_rss_mib)
        parts.append(
            f"{count}: {sample.wall:.3f} s ({out['program_seconds']:.3f} s in the program, "
            f"{out['resources']} resources, {sample.max_rss_mib:.1f} MiB)"
        )
    c.samples.append(f"run {n}: program under mocks " + " | ".join(parts))


def _brief(run: CliRun) -> str:
    r, smp = run.report, run.sample
    return (
        f"{smp.wall:.3f} s (engine {r['seconds']:.3f} s), {r['connections']} conn, "
        f"{r['commands']} cmd, {smp.max_rss_mib:.1f} MiB, CPU {smp.cpu:.2f} s CLI + "
        f"{run.host_cpu:.2f} s host, exit {smp.exit_code}"
    )
