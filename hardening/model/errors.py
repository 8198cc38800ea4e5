"""Errors the hardening engine raises, each carrying the CLI exit code it stands for."""

from __future__ import annotations

# Exit codes are a contract (README, issue #2): scripts and pipelines branch on them.
EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_USAGE = 2
EXIT_CONNECT = 3
EXIT_APPLY_FAILED = 4


class HardeningError(Exception):
    """Base class: a message meant for the operator, and an exit code."""

    exit_code = EXIT_APPLY_FAILED


class UsageError(HardeningError):
    """Bad flags or settings, found before anything on the host changed."""

    exit_code = EXIT_USAGE


class ConnectError(HardeningError):
    """Cannot connect or authenticate, or the host key is unknown or mismatched."""

    exit_code = EXIT_CONNECT


class HostKeyError(ConnectError):
    """The server's host key is unknown, or differs from the recorded or pinned one."""


class ApplyFailed(HardeningError):
    """The apply did not complete; the host is back to (or still at) what it was."""

    exit_code = EXIT_APPLY_FAILED

    def __init__(self, message: str, *, rolled_back: bool = False, untouched: bool = False) -> None:
        super().__init__(message)
        self.rolled_back = rolled_back  # live files were changed, then restored
        self.untouched = untouched  # failed before any live file changed
