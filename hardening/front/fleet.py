"""Fleet mode: `--inventory hosts.yaml`, many hosts at once with a bounded pool.

Every entry is checked before any host is contacted (exit 2 names the entry and the key). Each
host runs independently with its own timeouts: one failing or hanging host never stops or
corrupts the others. The exit code is the worst host's.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardening.front.display import printable
from hardening.front.inventory import HostEntry, load_inventory
from hardening.model import defaults, validation
from hardening.model.errors import UsageError
from hardening.model.profiles import Request

if TYPE_CHECKING:  # api pulls in paramiko: only `run` pays for it
    from hardening.ops.api import LoadedKey, Report


@dataclass(frozen=True)
class FleetOptions:
    """What one fleet run does: the action, the inventory, the pool, and the timing.

    The target fields are the defaults every entry starts from (the CLI's flags)."""

    action: str
    inventory: str
    parallel: int = defaults.PARALLEL
    wait: float = defaults.WAIT
    confirm_timeout: int = defaults.CONFIRM_TIMEOUT
    command_timeout: float = defaults.COMMAND_TIMEOUT
    port: int = defaults.PORT
    user: str | None = None
    identity: str | None = None
    passphrase_env: str | None = None
    known_hosts: str | None = None
    accept_new_host_key: bool = False
    host_key_fingerprint: str | None = None


def _cli_defaults(options: FleetOptions, request: Request) -> dict[str, Any]:
    return {
        "port": options.port,
        "user": options.user,
        "identity": options.identity,
        "passphrase_env": options.passphrase_env,
        "admin_user": request.admin_user,
        "profile": request.profile,
        "set": dict(request.overrides),
        "known_hosts": options.known_hosts or "~/.ssh/known_hosts",
        "accept_new_host_key": options.accept_new_host_key,
        "host_key_fingerprint": options.host_key_fingerprint,
        "adopt_admin_user": request.adopt_admin,
    }


class _Bar:
    """A one-line progress bar on a terminal; silent elsewhere (progress lines say enough)."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.enabled = sys.stderr.isatty()
        self.lock = threading.Lock()

    def line(self, text: str) -> None:
        text = printable(text)  # progress quotes what hosts said
        with self.lock:
            if self.enabled:
                sys.stderr.write("\r\033[K")
            sys.stderr.write(text + "\n")
            self._draw()

    def advance(self) -> None:
        with self.lock:
            self.done += 1
            self._draw()

    def _draw(self) -> None:
        if self.enabled:
            filled = int(30 * self.done / self.total)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _load_keys(entries: list[HostEntry]) -> dict[tuple[str, str | None], LoadedKey]:
    """Every entry's key, each file once, before any host: a bad key file is exit 2."""
    from hardening.ops import api

    keys: dict[tuple[str, str | None], LoadedKey] = {}
    for e in entries:
        if (e.identity, e.passphrase_env) not in keys:
            passphrase = None
            if e.passphrase_env:
                unset = validation.passphrase_problems(e.passphrase_env, os.environ)
                if unset:
                    raise UsageError(f"passphrase_env {e.passphrase_env}: {unset[0].message}")
                passphrase = os.environ[e.passphrase_env]
            keys[(e.identity, e.passphrase_env)] = api.load_key(
                api.KeySource(
                    path=e.identity,
                    passphrase=passphrase,
                    setting=f"identity ({e.host})",
                    passphrase_hint="inventory key `passphrase_env: NAME`",
                )
            )
    return keys


def run(
    options: FleetOptions, request: Request, progress: Callable[[str], None] | None
) -> list[Report]:
    """Run options.action on every inventory host; reports in inventory order."""
    from hardening.ops import api

    entries = load_inventory(options.inventory, _cli_defaults(options, request))
    keys = _load_keys(entries)
    refused = [
        f"{e.host}:{e.port}: {problem.message}"
        for e in entries
        for problem in keys[(e.identity, e.passphrase_env)].problems(e.request.overrides)
    ]
    if refused:  # still before any host is contacted
        raise UsageError("\n".join(refused))
    bar = _Bar(len(entries)) if progress is not None else None
    say = bar.line if bar is not None else None
    action = options.action
    engine_options = api.Options(
        wait=options.wait,
        confirm_timeout=options.confirm_timeout,
        command_timeout=options.command_timeout,
    )

    def one(e: HostEntry) -> Report:
        target = api.TargetSpec(
            e.host,
            e.port,
            e.user,
            keys[(e.identity, e.passphrase_env)],
            api.HostKeyPolicy(
                known_hosts=Path(e.known_hosts).expanduser(),
                accept_new=e.accept_new_host_key,
                pinned_fingerprint=e.host_key_fingerprint,
            ),
        )
        if say:
            say(f"{e.host}:{e.port}: {action} started")
        try:
            report = api.run(action, target, e.request, engine_options, say)
        except Exception as exc:  # a bug for one host must not take the fleet down
            report = api.Report(e.host, e.port, action, error=f"internal error: {exc}")
            report.exit_code = 4
        if say:
            outcome = report.error or ("changed" if report.changed else "no change")
            say(f"{e.host}:{e.port}: {action} finished (exit {report.exit_code}): {outcome}")
        if bar is not None:
            bar.advance()
        return report

    with ThreadPoolExecutor(max_workers=min(options.parallel, len(entries))) as pool:
        reports = list(pool.map(one, entries))
    if bar is not None:
        bar.close()
    return reports


def summary(reports: list[Any]) -> str:
    """The closing table: one row per host."""
    rows = [("host", "exit", "changed", "compliant", "seconds", "error")]
    for r in reports:
        rows.append((
            f"{r.host}:{r.port}", str(r.exit_code), str(r.changed).lower(),
            str(r.compliant).lower(), f"{r.seconds:.2f}",
            printable(r.error or "", indent=False).replace("\n", " ")[:80],
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
