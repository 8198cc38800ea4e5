"""What the engine reports while it works: lines that stay, and statuses that only say where a
wait stands (a retry, a lock held by someone else).

A status is a `str`, so every progress sink can print it as it prints any line; a sink that
knows better (the CLI's terminal) shows it as the one updating live line, or prints it once
per change of `state` instead of once per retry.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]


class Status(str):
    """A progress line that is superseded by the next one from the same `host`.

    `state` is what the wait is about without the countdown ("127.0.0.1:1: TCP connect
    failed: ..."): the same state again is no news.
    """

    host: str
    state: str

    def __new__(cls, text: str, *, host: str, state: str) -> Status:
        status = super().__new__(cls, text)
        status.host, status.state = host, state
        return status


def plural(count: int, noun: str) -> str:
    """`1 setting`, `2 settings`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
