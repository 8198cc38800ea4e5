"""The rows of `python -m bench.run`'s table (figures, targets from issue 7) and the method
text RESULTS.md prints under it."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence

from bench.report import Goal, Row
from bench.scenarios import ADMIN, Collected, Settings

FRESH = "fresh apply, root (wall)"
NOOP = f"no-op apply, {ADMIN} (wall)"


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
    "`connections`, `commands`; hardening/ssh/transport.py counts a connection once TCP is up). "
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
