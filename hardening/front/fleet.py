"""Fleet mode: `--inventory hosts.yaml`, many hosts at once with a bounded pool.

Every entry is checked before any host is contacted (exit 2 names the entry and the key). Each
host runs independently with its own timeouts: one failing or hanging host never stops or
corrupts the others. The exit code is the worst host's.
"""

from __future__ import annotations

import os
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hardening.front.display import printable
from hardening.front.inventory import HostEntry, load_inventory
from hardening.model import defaults, validation
from hardening.model.errors import UsageError
from hardening.model.profiles import Request

if TYPE_CHECKING:  # api pulls in paramiko: only `operate_all` pays for it
    from hardening.ops.api import LoadedKey, Report


@dataclass(frozen=True)
class FleetOptions:
    """What one fleet run does: the action, the inventory, the pool, and the timing.

    The target fields are the defaults every entry starts from (the CLI's flags)."""

    action: str
    inventory: str
    parallel: int = defaults.PARALLEL
    wait: float = defaults.WAIT
    connect_wait: float | None = None  # api.Options.connect_wait
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
        "placement": request.placement,
        "set": dict(request.overrides),
        "known_hosts": options.known_hosts or "~/.ssh/known_hosts",
        "accept_new_host_key": options.accept_new_host_key,
        "host_key_fingerprint": options.host_key_fingerprint,
        "adopt_admin_user": request.adopt_admin,
    }


class FleetDisplay(Protocol):
    """Where the fleet's progress goes (the CLI's terminal.Terminal)."""

    def __call__(self, message: str) -> None: ...
    def count(self, done: int, total: int) -> None: ...
    def done(self, host: str) -> None: ...


def label(e: HostEntry) -> str:
    """An entry in the fleet's lines and table: its name and address, or its address."""
    return f"{e.name} ({e.host}:{e.port})" if e.name else f"{e.host}:{e.port}"


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


def operate_all(
    options: FleetOptions, request: Request, progress: FleetDisplay | None
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
    action, total, finished = options.action, len(entries), [0]
    lock = threading.Lock()
    if progress is not None:
        progress.count(0, total)
    engine_options = api.Options(
        wait=options.wait,
        connect_wait=options.connect_wait,
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
            e.name,
        )
        if progress is not None:
            progress(f"{label(e)}: {action} started")
        try:
            report = api.operate(action, target, e.request, engine_options, progress)
        except Exception as exc:  # a bug for one host must not take the fleet down
            report = api.Report(e.host, e.port, action, error=f"internal error: {exc}", name=e.name)
            report.exit_code = 4
        if progress is not None:
            outcome = report.error or ("changed" if report.changed else "no change")
            progress(f"{label(e)}: {action} finished (exit {report.exit_code}): {outcome}")
            with lock:
                finished[0] += 1
                progress.count(finished[0], total)
            for shown in (label(e), target_shown(e)):
                progress.done(shown)
        return report

    with ThreadPoolExecutor(max_workers=min(options.parallel, len(entries))) as pool:
        return list(pool.map(one, entries))


def target_shown(e: HostEntry) -> str:
    """What the engine's own progress lines call the entry (transport.Target.shown)."""
    if e.name:
        return e.name
    return e.host if e.port == 22 else f"{e.host}:{e.port}"


ERROR_WIDTH = 60  # the table's error column wraps here, between words


def summary(reports: list[Any]) -> str:
    """The closing table: one row per host; a long error wraps within its column."""
    rows = [("host", "exit", "changed", "compliant", "seconds", "error")]
    for r in reports:
        error = printable(r.error or "", indent=False).replace("\n", " ")
        wrapped = textwrap.wrap(
            error, ERROR_WIDTH, break_long_words=False, break_on_hyphens=False
        ) or [""]
        host = f"{r.name} ({r.host}:{r.port})" if r.name else f"{r.host}:{r.port}"
        rows.append((
            host, str(r.exit_code), str(r.changed).lower(),
            str(r.compliant).lower(), f"{r.seconds:.2f}", wrapped[0],
        ))  # fmt: skip
        rows.extend(("", "", "", "", "", more) for more in wrapped[1:])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
