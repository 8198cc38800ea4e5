"""What an operation cost on the wire, counted by the transport and shown in the report."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Stats:
    """Counted, not guessed: what an operation cost on the wire (see bench/)."""

    connections: int = 0
    commands: int = 0
    # (step, started, ended) on time.monotonic(): each login and each remote command, so a
    # report shows where the time went (bench/ turns it into round trips per step).
    timeline: list[tuple[str, float, float]] = field(default_factory=list)
    origin: float = field(default_factory=time.monotonic)
