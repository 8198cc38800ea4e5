"""The latency benchmark's figures (wall times by tool, step and RTT; round trips as the slope
over the measured RTT) and its section of bench/RESULTS.md with the goals of issue 12."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import ProcessSample

SECTION = "## Over a real link: round trips (issue 12)"
RTTS = (0.0, 0.05, 0.15)
FLEET_RTT = 0.15
BEFORE = "hardened-ecs before"  # the engine of --before REF, beside today's

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
