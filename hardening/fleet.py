"""Fleet mode: `--inventory hosts.yaml`, many hosts at once with a bounded pool.

Every entry is checked before any host is contacted (exit 2 names the entry and the key). Each
host runs independently with its own timeouts: one failing or hanging host never stops or
corrupts the others. The exit code is the worst host's.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hardening import inputs
from hardening.desired import PROFILES, Request, validate_request
from hardening.display import printable
from hardening.errors import UsageError
from hardening.values import directive_text

_HOST_KEYS = {
    "host", "port", "user", "identity", "passphrase_env", "admin_user", "profile", "set",
    "known_hosts", "accept_new_host_key", "host_key_fingerprint", "adopt_admin_user",
}  # fmt: skip


@dataclass(frozen=True)
class HostEntry:
    host: str
    port: int
    user: str
    identity: str
    passphrase_env: str | None
    request: Request
    known_hosts: str
    accept_new_host_key: bool
    host_key_fingerprint: str | None


def _cli_defaults(args: argparse.Namespace, request: Request) -> dict[str, Any]:
    return {
        "port": args.port,
        "user": args.user,
        "identity": args.identity,
        "passphrase_env": args.passphrase_env,
        "admin_user": request.admin_user,
        "profile": request.profile,
        "set": dict(request.overrides),
        "known_hosts": args.known_hosts or "~/.ssh/known_hosts",
        "accept_new_host_key": args.accept_new_host_key,
        "host_key_fingerprint": args.host_key_fingerprint,
        "adopt_admin_user": request.adopt_admin,
    }


def load_inventory(path: str, defaults: Mapping[str, Any]) -> list[HostEntry]:
    """Parse and validate the whole inventory; raise UsageError listing every problem."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"--inventory {path}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"--inventory {path}: not valid YAML ({exc})") from None
    if isinstance(data, list):
        data = {"hosts": data}
    if not isinstance(data, dict) or not isinstance(data.get("hosts"), list) or not data["hosts"]:
        raise UsageError(
            f"--inventory {path}: expected a list of hosts, or a mapping with `hosts:` "
            "(and optional `defaults:`)"
        )
    unknown_top = set(data) - {"hosts", "defaults"}
    problems = [f"{path}: unknown key(s) {', '.join(sorted(unknown_top))}"] if unknown_top else []
    base = dict(defaults)
    file_defaults = data.get("defaults") or {}
    if not isinstance(file_defaults, dict):
        problems.append(f"{path}: defaults must be a mapping")
        file_defaults = {}
    problems += [f"{path}: defaults.{k}: unknown key" for k in set(file_defaults) - _HOST_KEYS]
    base.update({k: v for k, v in file_defaults.items() if k != "set"})
    base["set"] = _merge_set(
        base.get("set", {}), file_defaults.get("set"), f"{path}: defaults", problems
    )

    entries: list[HostEntry] = []
    seen: set[tuple[str, int]] = set()
    for i, raw in enumerate(data["hosts"], start=1):
        item = {"host": raw} if isinstance(raw, str) else raw
        where = f"{path}: hosts[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: expected a host name or a mapping with `host:`")
            continue
        problems += [f"{where}.{k}: unknown key" for k in set(item) - _HOST_KEYS]
        merged = {**base, **{k: v for k, v in item.items() if k != "set"}}
        merged["set"] = _merge_set(base["set"], item.get("set"), where, problems)
        entry, errs = _entry(merged, where)
        problems += errs
        if entry is not None:
            if (entry.host, entry.port) in seen:
                problems.append(f"{where}: {entry.host}:{entry.port} is listed twice")
            seen.add((entry.host, entry.port))
            entries.append(entry)
    if problems:
        raise UsageError("\n".join(problems))
    return entries


def _merge_set(
    base: dict[str, Any], extra: object, where: str, problems: list[str]
) -> dict[str, Any]:
    """`set:` of an entry over its defaults; anything but a mapping is a problem."""
    if extra is None:
        return dict(base)
    if not isinstance(extra, dict):
        problems.append(f"{where}.set: must be a mapping of Directive: value")
        return dict(base)
    return {**base, **extra}


def _entry(m: dict[str, Any], where: str) -> tuple[HostEntry | None, list[str]]:
    problems = []
    host = m.get("host")
    if host is None or host == "":
        return None, [f"{where}.host: required (a host name or IP address)"]
    if not isinstance(host, str) or not inputs.HOST.fullmatch(host):
        return None, [f"{where}.host: {host!r} is not a host name or IP address"]
    port = m.get("port", 22)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        problems.append(f"{where}.port: {port!r} must be a number from 1 to 65535")
    for key in ("user", "identity"):
        if not isinstance(m.get(key), str) or not m[key]:
            problems.append(f"{where}.{key}: required (in the entry, defaults:, or --{key})")
    if isinstance(m.get("user"), str) and not inputs.USER.fullmatch(m["user"]):
        problems.append(f"{where}.user: {m['user']!r} is not a valid login name")
    fingerprint = m.get("host_key_fingerprint")
    if fingerprint is not None and not (
        isinstance(fingerprint, str) and inputs.FINGERPRINT.fullmatch(fingerprint)
    ):
        problems.append(f"{where}.host_key_fingerprint: {fingerprint!r}: {inputs.FINGERPRINT_HINT}")
    for flag in ("accept_new_host_key", "adopt_admin_user"):
        if not isinstance(m.get(flag, False), bool):
            problems.append(f"{where}.{flag}: must be true or false (not quoted)")
    for key in ("passphrase_env", "known_hosts", "admin_user"):
        if m.get(key) is not None and not isinstance(m[key], str):
            problems.append(f"{where}.{key}: must be a string")
    profile = m.get("profile", "baseline")
    if profile not in PROFILES:
        problems.append(f"{where}.profile: {profile!r} is not one of {', '.join(PROFILES)}")
    overrides: dict[str, str] = {}
    raw_set = m.get("set") or {}
    if not isinstance(raw_set, dict):
        problems.append(f"{where}.set: must be a mapping of Directive: value")
        raw_set = {}
    for name, value in raw_set.items():
        if isinstance(value, list | dict) or value is None:
            problems.append(f"{where}.set.{name}: must be a single value, not a list or mapping")
        else:
            overrides[str(name)] = directive_text(value)
    admin = str(m.get("admin_user", "ops"))
    if problems:
        return None, problems
    problems += [f"{where}: {p}" for p in validate_request(str(profile), overrides, admin)]
    if problems:
        return None, problems
    return HostEntry(
        host=host,
        port=port,
        user=m["user"],
        identity=m["identity"],
        passphrase_env=m.get("passphrase_env"),
        request=Request(str(profile), overrides, admin, bool(m.get("adopt_admin_user"))),
        known_hosts=str(m.get("known_hosts") or "~/.ssh/known_hosts"),
        accept_new_host_key=bool(m.get("accept_new_host_key")),
        host_key_fingerprint=m.get("host_key_fingerprint"),
    ), []


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


def run(
    args: argparse.Namespace, request: Request, progress: Callable[[str], None] | None
) -> list[Any]:
    """Run args.action on every inventory host; reports in inventory order."""
    from hardening import engine
    from hardening.keys import load_private_key
    from hardening.transport import HostKeyPolicy, Target

    entries = load_inventory(args.inventory, _cli_defaults(args, request))
    keys = {}
    for e in entries:  # load every key first: a bad key file is a usage error, exit 2
        if (e.identity, e.passphrase_env) not in keys:
            passphrase = None
            if e.passphrase_env:
                if e.passphrase_env not in os.environ:
                    raise UsageError(f"passphrase_env {e.passphrase_env}: that variable is not set")
                passphrase = os.environ[e.passphrase_env]
            keys[(e.identity, e.passphrase_env)] = load_private_key(
                path=e.identity,
                passphrase=passphrase,
                setting=f"identity ({e.host})",
                passphrase_hint="inventory key `passphrase_env: NAME`",
            )
    bar = _Bar(len(entries)) if progress is not None else None
    say = bar.line if bar is not None else None
    operation = {"apply": engine.apply, "check": engine.check, "plan": engine.plan}[args.action]
    options = engine.Options(
        wait=args.wait,
        confirm_timeout=args.confirm_timeout,
        command_timeout=args.command_timeout,
    )

    def one(e: HostEntry) -> engine.Report:
        target = Target(
            e.host,
            e.port,
            e.user,
            keys[(e.identity, e.passphrase_env)],
            HostKeyPolicy(
                known_hosts=Path(e.known_hosts).expanduser(),
                accept_new=e.accept_new_host_key,
                pinned_fingerprint=e.host_key_fingerprint,
            ),
        )
        if say:
            say(f"{e.host}:{e.port}: {args.action} started")
        try:
            report = operation(target, e.request, options, say)
        except Exception as exc:  # a bug for one host must not take the fleet down
            report = engine.Report(e.host, e.port, args.action, error=f"internal error: {exc}")
            report.exit_code = 4
        if say:
            outcome = report.error or ("changed" if report.changed else "no change")
            say(f"{e.host}:{e.port}: {args.action} finished (exit {report.exit_code}): {outcome}")
        if bar is not None:
            bar.advance()
        return report

    with ThreadPoolExecutor(max_workers=min(args.parallel, len(entries))) as pool:
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
