"""Rows of measurements, the issue's targets beside them, the printed table and RESULTS.md."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Stat = Literal["median", "max", "value"]
PASS, MISS = "PASS", "MISS"

# Issue 7: the dev-sec ssh_hardening Ansible role on the same kind of test host.
ANSIBLE_FIRST_RUN_S = 21.0
ANSIBLE_NOOP_S = 15.0


@dataclass(frozen=True)
class Goal:
    """A goal from the issue: `stat` of the row's values must be <= (or ==) `limit`."""

    limit: float
    stat: Stat = "median"
    exact: bool = False  # == limit instead of <= limit

    def met(self, row: Row) -> bool:
        value = row.stat(self.stat)
        return value == self.limit if self.exact else value <= self.limit + 1e-9

    def text(self, unit: str) -> str:
        op = "=" if self.exact else "≤"
        limit = _fmt(self.limit, unit)
        which = {"median": " median", "max": " every run", "value": ""}[self.stat]
        return f"{op} {limit}{which}"


@dataclass
class Row:
    """One measured (or derived) quantity over the runs."""

    label: str
    unit: Literal["s", "MiB", "", "x"]
    values: list[float] = field(default_factory=list)
    target: Goal | None = None
    derived: bool = False  # a ratio of two other rows' medians: one value, no spread
    note: str = ""

    def stat(self, which: Stat) -> float:
        if not self.values:
            raise ValueError(f"{self.label}: no values")
        if which == "max":
            return max(self.values)
        if which == "value":
            return self.values[0]
        return float(statistics.median(self.values))

    @property
    def result(self) -> str:
        if self.target is None:
            return ""
        return PASS if self.target.met(self) else MISS

    def cells(self) -> tuple[str, ...]:
        if self.derived:
            spread = ("", "", "")
        else:
            spread = (
                _fmt(min(self.values), self.unit),
                _fmt(max(self.values), self.unit),
                str(len(self.values)),
            )
        return (
            self.label,
            _fmt(self.stat("median"), self.unit),
            *spread,
            self.target.text(self.unit) if self.target else "",
            self.result,
        )


HEADER = ("measurement", "median", "min", "max", "runs", "target (issue 7)", "result")


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:g}"


def text_table(rows: Sequence[Row]) -> str:
    """Aligned plain-text table for the terminal."""
    table = [HEADER, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    lines = []
    for n, line in enumerate(table):
        lines.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: Sequence[Row]) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    align = ["---", "---:", "---:", "---:", "---:", "---", "---"]
    return "\n".join([line(HEADER), "|" + "|".join(align) + "|", *(line(r.cells()) for r in rows)])


def verdict(rows: Sequence[Row]) -> tuple[int, int]:
    """(targets met, targets checked)."""
    checked = [r for r in rows if r.target is not None]
    return sum(r.result == PASS for r in checked), len(checked)


def ansible_comparison(rows: Mapping[str, Row], fresh: str, noop: str) -> list[str]:
    """Lines comparing our medians with the Ansible role's figures from the issue."""
    first, again = rows[fresh].stat("median"), rows[noop].stat("median")
    return [
        f"fresh apply: {first:.2f} s vs ~{ANSIBLE_FIRST_RUN_S:.0f} s for the Ansible role "
        f"({ANSIBLE_FIRST_RUN_S / first:.0f}x faster)",
        f"no-op apply: {again:.2f} s vs ~{ANSIBLE_NOOP_S:.0f} s for the Ansible role "
        f"({ANSIBLE_NOOP_S / again:.0f}x faster)",
    ]


def results_markdown(
    *,
    rows: Sequence[Row],
    machine: Mapping[str, str],
    comparison: Sequence[str],
    settings: Mapping[str, str],
    method: Sequence[str],
    samples: Sequence[str],
) -> str:
    met, checked = verdict(rows)
    out = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench.run`); do not edit by hand, run it again.",
        "",
        f"Measured {machine['date']}. Targets met: {met} of {checked}.",
        "",
        markdown_table(rows),
        "",
        "## Beside the Ansible role (issue 7)",
        "",
        "Same kind of test host (Debian bookworm chroot, sshd on loopback), dev-sec "
        "`ssh_hardening` figures as quoted in the issue:",
        "",
        *(f"- {c}" for c in comparison),
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine.items()),
        "",
        "## Settings",
        "",
        *(f"- {k}: {v}" for k, v in settings.items()),
        "",
        "## Method",
        "",
        *(f"- {m}" for m in method),
        "",
        "## Every sample",
        "",
        "```",
        *samples,
        "```",
        "",
    ]
    return "\n".join(out)
