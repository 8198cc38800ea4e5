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
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.measure import BenchError, ProcessSample, machine_info, run_process
from bench.report import (
    Goal,
    Row,
    ansible_comparison,
    results_markdown,
    text_table,
    verdict,
)
from tests.testhosts.chroot import TestHost

ROOT = Path(__file__).resolve().parent.parent
SUITE = "bookworm"  # the host kind the Ansible figures were measured on
ADMIN = "ops"
DEFAULT_RESULTS = ROOT / "bench" / "RESULTS.md"
STACK_FILE = ROOT / "Pulumi.dev.yaml"
FRESH = "fresh apply, root (wall)"
NOOP = f"no-op apply, {ADMIN} (wall)"


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


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- test hosts


def _client_key(workdir: Path) -> Path:
    key = workdir / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-C", "bench", "-f", str(key)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return key


@contextlib.contextmanager
def fresh_hosts(count: int, key: Path) -> Iterator[list[TestHost]]:
    """`count` freshly started hosts with our key for root; all stopped afterwards."""
    hosts: list[TestHost] = []
    try:
        for _ in range(count):
            # Started one by one in the main thread: a host dies with this process even if it
            # is killed (parent-death signal), and no start competes with a measurement.
            host = TestHost(SUITE, authorized_keys=[key])
            hosts.append(host)
            host.start()
            make_hostname_resolvable(host)
        yield hosts
    finally:
        for host in hosts:
            host.stop()


# A real server resolves its own name from /etc/hosts (Debian's installer and cloud-init write
# it); the debootstrap image has no /etc/hosts, so every `sudo` (which looks its host name up)
# asked DNS instead, and concurrent lookups here sometimes waited out the resolver's 5 s
# timeout. The test hosts share this machine's host name (no UTS namespace).
_RESOLVABLE_HOSTNAME = (
    'name=$(hostname); grep -qs "[[:space:]]$name\\([[:space:]]\\|$\\)" /etc/hosts'
    ' || printf "127.0.0.1 localhost\\n127.0.1.1 %s\\n" "$name" >> /etc/hosts'
)


def make_hostname_resolvable(host: TestHost) -> None:
    """Put the host's name in its /etc/hosts, as on a real server (unless it is there)."""
    host.run(_RESOLVABLE_HOSTNAME, check=True)


def host_cpu(host: TestHost) -> float:
    """CPU seconds the host's processes used so far: every live process's own time plus the
    time of the children it reaped (sshd's sessions, sudo, sshd -T, ...), so nothing twice."""
    ticks = 0
    for pid in host.namespace_pids():
        try:
            data = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2 :].split()
        ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _known_hosts(path: Path, hosts: Sequence[TestHost]) -> Path:
    """An operator's known_hosts for these hosts (their fresh keys, every type)."""
    path.write_text(
        "".join(
            f"[127.0.0.1]:{h.port} {line}\n"
            for h in hosts
            for line in h.host_public_keys().values()
        )
    )
    return path


def _sshd_logins(host: TestHost, since: int) -> int:
    """SSH logins the host's sshd accepted in its syslog after offset `since`."""
    return sum("Accepted publickey for" in ln for ln in host.syslog()[since:].splitlines())


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
        kh = _known_hosts(work / f"known_hosts-a{n}", [host])
        mark = len(host.syslog())
        fresh = _cli(s.python, "apply", _single(host, "root", key, kh), [host])
        _expect(fresh, 0, changed=True, compliant=True, error=None)
        logins = _sshd_logins(host, mark)
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
        kh = _known_hosts(work / f"known_hosts-b{n}", [host])
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
        kh = _known_hosts(work / f"known_hosts-f{n}", hosts)
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


# --------------------------------------------------------------------------- the table


def build_rows(s: Settings, c: Collected) -> list[Row]:
    v = c.values
    f = s.fleet_size
    lo, hi = s.instance_counts[0], s.instance_counts[-1]
    cores = _cores()
    rows = [
        Row(FRESH, "s", v["fresh.wall"], Goal(2.5)),
        Row("fresh apply: engine time (--json seconds)", "s", v["fresh.engine"]),
        Row("fresh apply: SSH connections (engine count)", "", v["fresh.connections"],
            Goal(3, "max")),
        Row("fresh apply: SSH logins accepted by sshd", "", v["fresh.logins"]),
        Row("fresh apply: remote commands", "", v["fresh.commands"]),
        Row("fresh apply: peak RSS", "MiB", v["fresh.rss"]),
        Row("fresh apply: CPU, CLI process", "s", v["fresh.cpu"]),
        Row("fresh apply: CPU, test host (sshd and all it ran)", "s", v["fresh.host_cpu"]),
        Row(NOOP, "s", v["noop.wall"], Goal(1.0)),
        Row("no-op apply: engine time (--json seconds)", "s", v["noop.engine"]),
        Row("no-op apply: SSH connections", "", v["noop.connections"], Goal(1, "max", True)),
        Row("no-op apply: remote commands", "", v["noop.commands"]),
        Row("no-op apply: peak RSS", "MiB", v["noop.rss"]),
        Row("no-op apply: CPU, CLI process", "s", v["noop.cpu"]),
        Row("no-op apply: CPU, test host (sshd and all it ran)", "s", v["noop.host_cpu"]),
        Row(f"check, hardened host, {ADMIN} (wall)", "s", v["check.wall"]),
        Row("check, fresh host, root: drift, exit 1 (wall)", "s", v["check_fresh.wall"]),
        Row("plan, fresh host, root (wall)", "s", v["plan.wall"]),
        Row("fleet apply, 1 host (wall)", "s", v["fleet1.wall"]),
        Row(f"fleet apply, {f} hosts (wall)", "s", v[f"fleet{f}.wall"]),
        Row(f"fleet: {f} hosts / 1 host (medians)", "x",
            [_ratio(v[f"fleet{f}.wall"], v["fleet1.wall"])], Goal(2.0, "value"), True),
        Row(f"fleet apply, {f} hosts: peak RSS", "MiB", v[f"fleet{f}.rss"]),
        Row(f"fleet apply, {f} hosts: CPU, CLI process", "s", v[f"fleet{f}.cpu"]),
        Row(f"fleet apply, {f} hosts: CPU, test hosts", "s", v[f"fleet{f}.host_cpu"]),
        Row(f"fleet apply, {f} hosts: CPU / {cores} cores (medians)", "s",
            [(_median(v[f"fleet{f}.cpu"]) + _median(v[f"fleet{f}.host_cpu"])) / cores],
            derived=True),
    ]  # fmt: skip
    for count in s.instance_counts:
        rows.append(Row(f"program under mocks, {_servers(count)} (wall)", "s",
                        v[f"program{count}.wall"]))  # fmt: skip
    rows.append(
        Row(f"program: {hi} servers / {lo} (wall medians)", "x",
            [_ratio(v[f"program{hi}.wall"], v[f"program{lo}.wall"])], Goal(3.0, "value"), True)
    )  # fmt: skip
    for count in (lo, hi):
        rows.append(Row(f"program, {_servers(count)}: time inside the program", "s",
                        v[f"program{count}.inside"]))  # fmt: skip
    rows.append(
        Row(f"program: {hi} / {lo} servers, inside the program only", "x",
            [_ratio(v[f"program{hi}.inside"], v[f"program{lo}.inside"])], derived=True)
    )  # fmt: skip
    rows.append(Row(f"program under mocks, {hi} servers: peak RSS", "MiB", v[f"program{hi}.rss"]))
    return rows


def _servers(count: int) -> str:
    return f"{count} server" + ("" if count == 1 else "s")


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _ratio(a: Sequence[float], b: Sequence[float]) -> float:
    return _median(a) / _median(b)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


METHOD = (
    "Wall time is the whole CLI process (`python -m hardening ...` started as a child: "
    "interpreter start, imports, SSH, interpreter exit), from just before the fork until "
    "the child is reaped; `engine time` is the `seconds` the CLI reports for the operation "
    "itself, so wall minus engine is start-up, key loading and exit.",
    "Every run starts fresh Debian bookworm test hosts (tests/testhosts/chroot.py: a real OpenSSH "
    "sshd in a chroot with its own PID and mount namespace, fresh host keys, on 127.0.0.1; "
    "host start/stop is not timed). Host A: fresh apply as root, no-op apply as the admin "
    "user, check as the admin user. Host B (fresh): plan and check as root. Fleet: one "
    "fresh host in one fleet run, then the other fresh hosts together in another.",
    "Host keys are trusted through a known_hosts file holding the hosts' keys, as an "
    "operator would have them. Each host gets its host name in /etc/hosts, as a real server "
    "has it: the debootstrap image has no /etc/hosts, so each `sudo` (every remote command "
    "as the admin user) asked DNS for the name, and concurrent look-ups here sometimes waited "
    "out the resolver's 5 s timeout (seen as 6.6 s instead of 1.6 s hosts in 8-host fleets).",
    "SSH connections and remote commands are the engine's own counters (`--json`: "
    "`connections`, `commands`; hardening/transport.py counts a connection once TCP is up). "
    "`SSH logins accepted by sshd` counts `Accepted publickey` in the test host's own "
    "syslog: the server's view of the same apply, as a cross-check.",
    "Peak RSS and CPU (user + system) are each child's own, from wait4() (not "
    "RUSAGE_CHILDREN, whose maxrss is the largest of all children reaped so far). Test host "
    "CPU is the change, over the command, of every host process's own and reaped children's "
    "CPU time (/proc/PID/stat): sshd, its sessions, sudo, sshd -t/-T and the scripts. "
    "`CPU / N cores` is (CLI + hosts CPU) divided by the cores: the wall time a perfectly "
    "parallel run could not beat on this machine.",
    "The Pulumi program (`__main__.py`, unchanged) runs under Pulumi's mocks through "
    "tools/offline_preview.py as `pulumi preview` would run it, on Pulumi.dev.yaml with "
    "only instanceCount changed, one process per measurement (bench/preview_once.py), so "
    "every figure pays the same interpreter start and imports; the target is judged on "
    "that whole-process time. `time inside the program` is run_offline_preview() alone "
    "(the program's own imports included, as it is the first run in the process).",
    "Before the runs, one untimed process imports hardening, fleet mode and the offline "
    "runner so that bytecode caches exist; nothing else is warmed up.",
    "Counts are judged on every run (`every run`), times on the median; a ratio row "
    "divides the medians of two rows.",
    "The machine may be shared: the load average before and after the runs is in the "
    "machine table.",
)


# --------------------------------------------------------------------------- main


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
        [python, "-c", "import hardening.engine, hardening.fleet, tools.offline_preview"],
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
        key = _client_key(work)
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
