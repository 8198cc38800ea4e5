"""Command line: `python -m hardening apply|check|plan`. Results on stdout, progress on stderr.

Everything that can be checked without the host is checked before connecting (exit 2).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hardening import validation
from hardening.display import printable
from hardening.errors import EXIT_USAGE, UsageError
from hardening.evidence_output import DEFAULT_REPORT_FORMAT, REPORT_FORMATS, report_path_problem
from hardening.profiles import DEFAULT_PROFILE, PROFILES, Request


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hardening",
        description="Harden sshd on a host over SSH: validated, verified, rolled back on failure.",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="apply|check|plan")
    for action, text in (
        ("apply", "harden the host (idempotent)"),
        ("check", "read-only: exit 1 and a table when the host drifted"),
        ("plan", "read-only: show what apply would change"),
    ):
        p = sub.add_parser(action, help=text, description=text)
        target = p.add_argument_group("target")
        target.add_argument("--host", help="host name or IP address")
        target.add_argument("--port", type=int, default=22, help="SSH port (default 22)")
        target.add_argument("--user", help="user to log in as (root on a fresh Alibaba image)")
        target.add_argument("--identity", metavar="KEYFILE", help="private key file")
        target.add_argument(
            "--passphrase-env",
            metavar="NAME",
            help="environment variable holding the key's passphrase (never on the command line)",
        )
        target.add_argument("--inventory", metavar="FILE", help="YAML list of hosts (fleet mode)")
        target.add_argument("--parallel", type=int, default=10, help="hosts at once (fleet mode)")
        keys = p.add_argument_group("host key (checked like OpenSSH)")
        keys.add_argument("--known-hosts", metavar="FILE", help="default ~/.ssh/known_hosts")
        trust = keys.add_mutually_exclusive_group()
        trust.add_argument(
            "--accept-new-host-key",
            action="store_true",
            help="record the key of a host not yet known (never a changed one)",
        )
        trust.add_argument(
            "--host-key-fingerprint", metavar="SHA256:...", help="accept only this host key"
        )
        settings = p.add_argument_group("settings")
        settings.add_argument(
            "--admin-user",
            default="ops",
            help="sudo user that keeps access when root is closed (default ops)",
        )
        settings.add_argument(
            "--adopt-admin-user",
            action="store_true",
            help="the admin user already exists and is yours: give it our key and sudo "
            "(without this an account hardened-ecs did not create is refused)",
        )
        settings.add_argument("--profile", default=DEFAULT_PROFILE, choices=PROFILES)
        settings.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="Directive=value",
            dest="overrides",
            help="override one directive (repeatable)",
        )
        timing = p.add_argument_group("timing")
        timing.add_argument(
            "--confirm-timeout",
            type=int,
            default=120,
            help="seconds after which the host rolls back an unconfirmed change",
        )
        timing.add_argument(
            "--wait",
            type=float,
            default=300,
            help="seconds to wait for a booting host (default 300)",
        )
        timing.add_argument(
            "--command-timeout",
            type=float,
            default=180,
            help="seconds one command on the host may take in total (default 180)",
        )
        if action == "check":
            evidence = p.add_argument_group("evidence for auditors (CIS 5.1, dev-sec ssh-baseline)")
            evidence.add_argument(
                "--report",
                metavar="FILE",
                help="write every control's result to FILE ('-': standard output)",
            )
            evidence.add_argument(
                "--format",
                choices=REPORT_FORMATS,
                help=f"the --report format (default {DEFAULT_REPORT_FORMAT}: a table to read)",
            )
        p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return parser


# Flags in the order their problems are listed; the key is validation's name for the input.
_FLAG_ORDER = (
    "host", "user", "identity", "port", "confirm_timeout", "wait", "command_timeout",
    "parallel", "host_key_fingerprint", "passphrase_env",
)  # fmt: skip
_REQUIRED = {
    "host": "--host is required (or --inventory FILE)",
    "user": "--user is required (root on a fresh Alibaba image)",
    "identity": "--identity KEYFILE is required (the private key to log in with)",
}
_TARGET_ONLY = frozenset(_REQUIRED)  # given per host in fleet mode


def _flag_problem(problem: validation.Problem, args: argparse.Namespace) -> str:
    """A validation problem in the CLI's words: the flag, the value given, what is wrong."""
    if problem.code == "missing":
        return _REQUIRED[problem.key]
    flag, value = "--" + problem.key.replace("_", "-"), getattr(args, problem.key)
    if problem.code == "invalid":
        shown = repr(value)
    elif isinstance(value, float):
        shown = f"{value:g}"
    else:
        shown = str(value)
    return f"{flag} {shown}: {problem.message}"


def _check_args(args: argparse.Namespace) -> Request:
    """Every problem found without the host, all at once."""
    found = [
        *validation.target_problems(
            args.host, args.port, args.user, args.identity, args.host_key_fingerprint or None
        ),
        *validation.timing_problems(
            args.confirm_timeout, args.wait, args.command_timeout, args.parallel
        ),
        *validation.passphrase_problems(args.passphrase_env, os.environ),
    ]
    by_key = {p.key: p for p in found if not (args.inventory and p.key in _TARGET_ONLY)}
    problems = [_flag_problem(by_key[key], args) for key in _FLAG_ORDER if key in by_key]
    overrides, malformed = validation.parse_set_items(args.overrides)
    problems.extend(p.message for p in malformed)
    asked = Request(args.profile, overrides, args.admin_user, args.adopt_admin_user)
    problems.extend(p.message for p in validation.check_request(asked).problems)
    problems.extend(_report_problems(args))
    if problems:
        raise UsageError("\n".join(problems))
    return asked


def _report_problems(args: argparse.Namespace) -> list[str]:
    report, fmt = getattr(args, "report", None), getattr(args, "format", None)
    if report is None:
        return [f"--format {fmt}: needs --report FILE"] if fmt else []
    if report == "-" and args.json:
        return ["--report -: standard output already carries --json; give a file name"]
    problem = report_path_problem(report)
    return [problem] if problem else []


def _short(value: str, limit: int = 60) -> str:
    """Long algorithm lists stay readable in a terminal; --json has them whole."""
    value = printable(value, indent=False).replace("\n", " ")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _print_table(rows: list[tuple[str, str, str]], out: Any) -> None:
    rows = [(a, _short(b), _short(c)) for a, b, c in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def render(report: dict[str, Any], out: Any) -> None:
    """Human-readable result of one host."""
    action, host = report["action"], f"{report['host']}:{report['port']}"
    settings: dict[str, dict[str, str | None]] = report["settings"]
    if report["error"]:
        error = printable(report["error"])  # it quotes what the host said
        out.write(f"{host}: {action} FAILED (exit {report['exit_code']}): {error}\n")
        return
    if action == "check":
        drift = [
            (n, s["wanted"] or "", s["after"] or "(unset)")
            for n, s in settings.items()
            if n in report.get("drift", [])
        ]
        if drift:
            out.write(f"{host}: drift in {len(drift)} setting(s)\n")
            _print_table([("directive", "wanted", "effective"), *drift], out)
        else:
            out.write(f"{host}: compliant ({len(settings)} settings)\n")
    elif action == "plan":
        todo = [
            (n, s["before"] or "(unset)", s["wanted"] or "")
            for n, s in settings.items()
            if n in report.get("drift", [])
        ]
        files = printable(", ".join(report["files"]) or "none", indent=False)
        out.write(f"{host}: {len(todo)} setting(s) to change; files to write: {files}\n")
        if todo:
            _print_table([("directive", "effective now", "wanted"), *todo], out)
    else:
        state = "changed" if report["changed"] else "unchanged"
        out.write(f"{host}: {state}, compliant={str(report['compliant']).lower()}\n")


def main(argv: Sequence[str] | None = None) -> int:
    # paramiko logs failed handshakes with tracebacks from its own thread; every failure
    # already reaches the operator as one message from the engine.
    logging.getLogger("paramiko").addHandler(logging.NullHandler())
    logging.getLogger("paramiko").propagate = False
    parser = build_parser()
    args = parser.parse_args(argv)
    progress = (
        None if args.json else (lambda msg: print(printable(msg), file=sys.stderr, flush=True))
    )
    try:
        return _main(args, progress)
    except KeyboardInterrupt:
        print(
            "interrupted: a change already committed rolls back by itself after "
            f"--confirm-timeout ({args.confirm_timeout}s); staged files expire with their lock",
            file=sys.stderr,
        )
        return 130


def _main(args: argparse.Namespace, progress: Any) -> int:
    try:
        request = _check_args(args)
        if args.inventory:
            from hardening import fleet  # only fleet runs pay for its imports

            reports = fleet.run(_fleet_options(args), request, progress)
        else:
            reports = [_run_one(args, request, progress)]
    except UsageError as exc:
        if args.json:
            print(json.dumps({"error": str(exc), "exit_code": EXIT_USAGE}))
        else:
            print(f"error: {printable(str(exc), indent=False)}", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "report", None):
        _write_report(args, reports)
    dicts = [r.as_dict() | {"drift": r.drift} for r in reports]
    if args.json:
        print(json.dumps(dicts[0] if len(dicts) == 1 and not args.inventory else dicts, indent=2))
    else:
        for d in dicts:
            render(d, sys.stdout)
        if args.inventory:
            from hardening.fleet import summary

            print(summary(reports))
    return max(r.exit_code for r in reports) if reports else 0


def _write_report(args: argparse.Namespace, reports: Sequence[Any]) -> None:
    """The evidence of every host in one report; a fleet run says each host's counts."""
    from hardening import evidence_output, evidence_table

    evidence = evidence_output.gather(reports)
    evidence_output.write(args.report, args.format or DEFAULT_REPORT_FORMAT, evidence)
    if args.inventory and not args.json:
        for host in evidence.hosts:
            print(evidence_table.summary_line(host), file=sys.stderr)


def _fleet_options(args: argparse.Namespace) -> Any:
    from hardening.fleet import FleetOptions

    return FleetOptions(
        action=args.action,
        inventory=args.inventory,
        parallel=args.parallel,
        wait=args.wait,
        confirm_timeout=args.confirm_timeout,
        command_timeout=args.command_timeout,
        port=args.port,
        user=args.user,
        identity=args.identity,
        passphrase_env=args.passphrase_env,
        known_hosts=args.known_hosts,
        accept_new_host_key=args.accept_new_host_key,
        host_key_fingerprint=args.host_key_fingerprint,
    )


def _run_one(args: argparse.Namespace, request: Request, progress: Any) -> Any:
    # Imported here so `--help` and usage errors stay fast (paramiko is slow to import).
    from hardening import api

    passphrase = os.environ.get(args.passphrase_env) if args.passphrase_env else None
    key = api.load_key(api.KeySource(path=args.identity, passphrase=passphrase))
    # Still before connecting: settings that would refuse this very key.
    refused = key.problems(request.overrides)
    if refused:
        raise UsageError("\n".join(p.message for p in refused))
    trust = api.HostKeyPolicy(
        known_hosts=Path(args.known_hosts or "~/.ssh/known_hosts").expanduser(),
        accept_new=args.accept_new_host_key,
        pinned_fingerprint=args.host_key_fingerprint,
    )
    target = api.TargetSpec(args.host, args.port, args.user, key, trust)
    options = api.Options(
        wait=args.wait,
        confirm_timeout=args.confirm_timeout,
        command_timeout=args.command_timeout,
    )
    return api.run(args.action, target, request, options, progress)
