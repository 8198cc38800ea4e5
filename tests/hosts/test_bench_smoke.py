"""The benchmark's code path, quickly: `python -m bench.run --quick` (one run, a fleet of 2,
instanceCount 1 and 10) must print the table and write RESULTS.md and its JSON with the right
structure. Timings are never asserted: they belong to `make bench`, not to tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.measure import run_process
from bench.report import Goal, Row, markdown_table, text_table

ROOT = Path(__file__).resolve().parents[2]
CORES = len(os.sched_getaffinity(0))
COMMITTED = ROOT / "bench" / "RESULTS.md"

HEADER = ["measurement", "median", "min", "max", "runs", "target (issue 7)", "result"]
TARGETED = {
    "fresh apply, root (wall)": "≤ 2.50 s median",
    "fresh apply: SSH connections (engine count)": "≤ 3 every run",
    "no-op apply, ops (wall)": "≤ 1.00 s median",
    "no-op apply: SSH connections": "= 1 every run",
}
MACHINE_KEYS = {
    "date", "cpu", "cores", "memory", "kernel", "python", "openssh_client", "openssh_test_hosts",
}  # fmt: skip


def labels(
    fleet: int, counts: tuple[int, int, int] | tuple[int, int], cores: int = CORES
) -> list[str]:
    """Every row of the table, in order, for a fleet size and instance counts."""
    lo, hi = counts[0], counts[-1]

    def servers(n: int) -> str:
        return f"{n} server" + ("" if n == 1 else "s")

    return [
        "fresh apply, root (wall)",
        "fresh apply: engine time (--json seconds)",
        "fresh apply: SSH connections (engine count)",
        "fresh apply: SSH logins accepted by sshd",
        "fresh apply: remote commands",
        "fresh apply: peak RSS",
        "fresh apply: CPU, CLI process",
        "fresh apply: CPU, test host (sshd and all it ran)",
        "no-op apply, ops (wall)",
        "no-op apply: engine time (--json seconds)",
        "no-op apply: SSH connections",
        "no-op apply: remote commands",
        "no-op apply: peak RSS",
        "no-op apply: CPU, CLI process",
        "no-op apply: CPU, test host (sshd and all it ran)",
        "check, hardened host, ops (wall)",
        "check, fresh host, root: drift, exit 1 (wall)",
        "plan, fresh host, root (wall)",
        "fleet apply, 1 host (wall)",
        f"fleet apply, {fleet} hosts (wall)",
        f"fleet: {fleet} hosts / 1 host (medians)",
        f"fleet apply, {fleet} hosts: peak RSS",
        f"fleet apply, {fleet} hosts: CPU, CLI process",
        f"fleet apply, {fleet} hosts: CPU, test hosts",
        f"fleet apply, {fleet} hosts: CPU / {cores} cores (medians)",
        *(f"program under mocks, {servers(n)} (wall)" for n in counts),
        f"program: {hi} servers / {lo} (wall medians)",
        f"program, {servers(lo)}: time inside the program",
        f"program, {servers(hi)}: time inside the program",
        f"program: {hi} / {lo} servers, inside the program only",
        f"program under mocks, {hi} servers: peak RSS",
    ]


def md_rows(text: str) -> dict[str, list[str]]:
    """The results table of a RESULTS.md: label -> the other cells."""
    table = text.split("\n\n| measurement |", 1)[1].split("\n\n", 1)[0]
    rows = [ln.strip("|").split(" | ") for ln in table.splitlines()[2:]]
    return {r[0].strip(): [c.strip() for c in r[1:]] for r in rows}


@pytest.mark.host
def test_quick_run_prints_the_table_and_writes_results(tmp_path: Path) -> None:
    committed_before = COMMITTED.read_bytes() if COMMITTED.exists() else None
    out, js = tmp_path / "RESULTS.md", tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--output", str(out),
         "--json-output", str(js)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    expected = labels(2, (1, 10))

    # The printed table: header, rule, one line per row; targets with PASS/MISS beside them.
    lines = proc.stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == HEADER
    assert set(lines[1]) == {"-", " "}
    printed = lines[2 : 2 + len(expected)]
    assert all(printed[i].startswith(label) for i, label in enumerate(expected))
    for line in printed:
        label = next(lb for lb in expected if line.startswith(lb))
        targeted = label in TARGETED or label.startswith(("fleet: ", "program: 10 servers / 1"))
        assert line.endswith(("PASS", "MISS")) == targeted, line
    assert re.search(r"^targets met: \d of 6; machine: ", proc.stdout, re.MULTILINE)
    assert re.search(r"fresh apply: .* s vs ~21 s for the Ansible role", proc.stdout)
    assert "run 1/1: single host" in proc.stderr  # progress goes to stderr

    # The JSON: same rows, one sample each, counts whole numbers, machine described.
    data: dict[str, Any] = json.loads(js.read_text())
    assert [r["label"] for r in data["rows"]] == expected
    for r in data["rows"]:
        assert len(r["values"]) == 1, r
        assert all(v > 0 for v in r["values"]), r
        if r["unit"] == "":
            assert all(float(v).is_integer() for v in r["values"]), r
        if r["label"] in TARGETED:
            assert r["target"] == TARGETED[r["label"]]
        assert (r["result"] in ("PASS", "MISS")) == (r["target"] is not None), r
    assert set(data["machine"]) >= MACHINE_KEYS
    assert data["machine"]["openssh_test_hosts"].startswith("OpenSSH_9.2")

    # RESULTS.md: the same table as markdown, then the comparison, the machine and the method.
    text = out.read_text()
    rows = md_rows(text)
    assert list(rows) == expected
    assert all(len(cells) == len(HEADER) - 1 for cells in rows.values())
    for heading in ("## Beside the Ansible role", "## Machine", "## Method", "## Every sample"):
        assert heading in text
    for key in MACHINE_KEYS:
        assert re.search(rf"^\| {key} \| .+ \|$", text, re.MULTILINE), key
    # --output elsewhere leaves the committed results alone.
    assert (COMMITTED.read_bytes() if COMMITTED.exists() else None) == committed_before


def test_committed_results_come_from_a_full_run() -> None:
    """bench/RESULTS.md in the repository: the full-size figures, >= 5 runs each."""
    if not COMMITTED.exists():
        pytest.fail("bench/RESULTS.md is missing: run `make bench` and commit it")
    text = COMMITTED.read_text()
    rows = md_rows(text)
    cores = re.search(r"^\| cores \| (\d+) usable", text, re.MULTILINE)
    assert cores, "no cores in the machine table"
    assert list(rows) == labels(8, (1, 10, 50), int(cores.group(1)))
    for label, cells in rows.items():
        runs = cells[3]
        assert runs == "" or int(runs) >= 5, (label, runs)
        if label in TARGETED:
            assert cells[4] == TARGETED[label] and cells[5] in ("PASS", "MISS"), cells
    assert re.search(r"^Measured \d{4}-\d\d-\d\d \d\d:\d\d UTC\.", text, re.MULTILINE)
    for key in MACHINE_KEYS:
        assert re.search(rf"^\| {key} \| .+ \|$", text, re.MULTILINE), key


# --------------------------------------------------------------------------- the parts


def test_peak_rss_is_the_childs_own_not_the_largest_child_so_far() -> None:
    big = run_process([sys.executable, "-c", "x = b'1' * (200 * 1024 * 1024)"], cwd=ROOT)
    small = run_process([sys.executable, "-c", "pass"], cwd=ROOT)
    assert big.exit_code == small.exit_code == 0
    assert big.max_rss_mib > 200
    # Neither the big child before it (RUSAGE_CHILDREN) nor pytest's own RSS (the address
    # space a vfork child is exec'd from) may show up in a small child's figure.
    assert small.max_rss_mib < 20, small
    assert 0 < small.wall < big.wall + 5


def test_run_process_reports_exit_code_and_output() -> None:
    sample = run_process(
        [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); "
         "sys.exit(3)"],
        cwd=ROOT,
    )  # fmt: skip
    assert (sample.exit_code, sample.stdout, sample.stderr) == (3, "out\n", "err\n")


def test_targets_pass_and_miss() -> None:
    fast = Row("t", "s", [1.0, 3.0, 2.0], Goal(2.5))
    slow = Row("t", "s", [2.4, 2.7, 2.6], Goal(2.5))
    assert (fast.result, slow.result) == ("PASS", "MISS")  # medians 2.0 and 2.6
    once = Row("c", "", [1, 1, 2], Goal(1, "max", exact=True))
    assert once.result == "MISS"  # counts must hold on every run
    ratio = Row("r", "x", [1.9], Goal(2.0, "value"), derived=True)
    assert ratio.result == "PASS" and ratio.cells()[2:5] == ("", "", "")
    plain = Row("p", "MiB", [40.0])
    assert plain.result == "" and plain.cells()[-2:] == ("", "")
    for table in (text_table([fast, ratio]), markdown_table([fast, ratio])):
        assert "≤ 2.50 s median" in table and "≤ 2.00x" in table


# ------------------------------------------------------------------------- bench/latency_report.py


def test_round_trips_are_the_slope_over_the_measured_rtt() -> None:
    """Wall = 0.4 s + 20 RTT for ours, 0.3 s + 10 RTT for the floor: the report finds 20 and
    10 round trips, the intercepts, and judges the goals from them (no time is measured)."""
    from bench.latency_report import BEFORE, RTTS, Figures, report
    from bench.measure import ProcessSample

    f = Figures()
    for rtt in RTTS:
        f.measured[rtt] = [rtt]
        for tool, step, a, k in (
            ("hardened-ecs", "fresh", 0.4, 20),
            ("hardened-ecs", "noop", 0.2, 9),
            ("naive", "fresh", 0.3, 10),
            (BEFORE, "fresh", 0.5, 60),
        ):
            wall = a + k * rtt
            f.add(tool, step, rtt, ProcessSample((), 0, wall, 0, 0.0, "", ""))
    assert round(f.slope("hardened-ecs", "fresh")[0], 6) == 20
    assert round(f.slope("hardened-ecs", "fresh")[1], 6) == 0.4
    text = "\n".join(report(f, ["hardened-ecs", BEFORE, "naive"]))
    assert "- round trips, before -> after: fresh 60.0 -> 20.0" in text
    assert "| hardened-ecs | fresh |" in text and "| 20.0 | 0.40 s |" in text
    assert "- PASS: fresh apply ≤ 25 round trips: 20.0" in text
    assert "- MISS: fresh apply ≤ 1.2x the naive floor's round trips: 2.00x" in text
    assert "- MISS: noop ≤ 8 round trips: 9.0" in text


def test_each_step_of_a_fresh_apply_gets_its_round_trips_from_the_timeline() -> None:
    """Login 4 RTT, facts 2 RTT, 0.3 s + 1 RTT outside the steps: the step table says so; a run
    that took another path (a step more) leaves no step table rather than a wrong one."""
    from bench.latency_report import RTTS, Figures, step_table

    f = Figures()
    for rtt in RTTS:
        f.measured[rtt] = [rtt]
        login, facts = 0.05 + 4 * rtt, 0.2 + 2 * rtt
        wall = login + facts + 0.3 + rtt
        timeline: list[dict[str, object]] = [
            {"step": "login as root", "seconds": login},
            {"step": "facts", "seconds": facts},
        ]
        for _ in range(3):
            f.add_timeline("hardened-ecs", rtt, wall, timeline)
    rows = "\n".join(step_table(f))
    assert "| 1. login as root | 0.05 s |" in rows and rows.splitlines()[2].endswith("| 4.0 |")
    assert "| 2. facts | 0.20 s |" in rows and rows.splitlines()[3].endswith("| 2.0 |")
    assert rows.splitlines()[4].startswith("| outside the steps") and rows.endswith("| 1.0 |")

    f.add_timeline("hardened-ecs", RTTS[0], 1.0, [*timeline, {"step": "state", "seconds": 0.1}])
    assert step_table(f) == []


def test_the_fleet_is_set_beside_what_the_machine_s_cores_allow() -> None:
    """50 hosts in 12 s with 20 CPU seconds on this machine's cores: the report gives the floor
    and the ratio to it, and still judges the goal against one host as the issue asks."""
    import os

    from bench.latency_report import FLEET_RTT, Figures, report
    from bench.measure import ProcessSample

    f = Figures()
    for label, wall in (("fleet1", 3.0), ("fleet50", 12.0)):
        f.add("hardened-ecs", label, FLEET_RTT, ProcessSample((), 0, wall, 0, 0.0, "", ""))
    f.fleet_cpu["fleet50"] = [20.0]
    text = "\n".join(report(f, []))
    cores = len(os.sched_getaffinity(0))
    floor = max(3.0, 20.0 / cores)
    assert f"no schedule here ends before {20.0 / cores:.2f} s" in text
    assert f"the fleet took {12.0 / floor:.2f}x max(one host, that)" in text
    assert "- MISS: fleet of 50 at 150 ms ≤ 1.5x one host: 4.00x" in text


@pytest.mark.host
def test_delay_line_carries_tcp_and_holds_every_packet(tmp_path: Path) -> None:
    """A namespace behind the delay line: TCP reaches a listener in it, and a connect takes at
    least the configured round trip (each packet is held RTT/2; a lower bound, not a speed)."""
    if os.geteuid() != 0:
        pytest.skip("the delay line needs root (namespaces, TUN devices)")
    from bench.delayline import DelayLine, measured_rtt

    listener = (
        "import socket,sys,time\n"
        "s=socket.socket(); s.bind((sys.argv[1],22)); s.listen(16)\n"
        "end=time.time()+60\n"
        "while time.time()<end:\n"
        "    c,_=s.accept(); c.close()\n"
    )
    ns = subprocess.Popen(["unshare", "--net", "sleep", "120"])
    server = None
    try:
        with DelayLine(250, rtt=0.0) as line:
            address = line.attach(ns.pid)
            server = subprocess.Popen(
                [
                    *("nsenter", "--target", str(ns.pid), "--net", "--"),
                    *(sys.executable, "-c", listener, address),
                ]
            )
            for _ in range(50):
                try:
                    measured_rtt(line, address, samples=1)
                    break
                except Exception:
                    subprocess.run(["sleep", "0.1"], check=True)
            line.rtt = 0.1
            assert measured_rtt(line, address, samples=3) >= 0.1
            line.detach(address)
    finally:
        for proc in (server, ns):
            if proc is not None:
                proc.kill()
                proc.wait()
