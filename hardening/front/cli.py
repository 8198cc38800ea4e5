"""Command line: `python -m hardening apply|check|plan`. Results on stdout, progress on stderr.

Everything that can be checked without the host is checked before connecting (exit 2).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardening.front.arguments import LONG_WAIT, build_parser
from hardening.front.display import printable
from hardening.front.evidence_output import report_path_problem
from hardening.model import validation
from hardening.model.errors import EXIT_USAGE, UsageError
from hardening.model.profiles import Request
from hardening.model.progress import plural

if TYPE_CHECKING:  # rich is imported only once the arguments are good (help stays fast)
    from hardening.front.terminal import Terminal

__all__ = ["build_parser", "main", "render"]  # build_parser: the parser lives in arguments.py

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


def _wait(args: argparse.Namespace) -> float:
    return LONG_WAIT if args.wait is None else float(args.wait)


def _connect_wait(args: argparse.Namespace) -> float | None:
    """No --wait: connect once (the long wait belongs to `pulumi up` and an explicit --wait)."""
    return 0.0 if args.wait is None else None


def _check_args(args: argparse.Namespace) -> Request:
    """Every problem found without the host, all at once."""
    found = [
        *validation.target_problems(
            args.host, args.port, args.user, args.identity, args.host_key_fingerprint or None
        ),
        *validation.timing_problems(
            args.confirm_timeout, _wait(args), args.command_timeout, args.parallel
        ),
        *validation.passphrase_problems(args.passphrase_env, os.environ),
    ]
    by_key = {p.key: p for p in found if not (args.inventory and p.key in _TARGET_ONLY)}
    problems = [_flag_problem(by_key[key], args) for key in _FLAG_ORDER if key in by_key]
    overrides, malformed = validation.parse_set_items(args.overrides)
    problems.extend(p.message for p in malformed)
    asked = Request(args.profile, overrides, args.admin_user, args.adopt_admin_user, args.placement)
    problems.extend(p.message for p in validation.validate_request(asked).problems)
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


def _print_modes(modes: list[str], out: Any) -> None:
    for line in modes:
        out.write(f"  {printable(line, indent=False)}\n")


def render(report: dict[str, Any], out: Any, name: str | None = None) -> None:
    """Human-readable result of one host (`name`: the inventory's, shown before the address)."""
    action, host = report["action"], f"{report['host']}:{report['port']}"
    if name:
        host = f"{name} ({host})"
    used = f" (as {report['user']})" if report.get("user") else ""
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
        modes: list[str] = report.get("modes", [])
        if drift or modes:
            also = f" and {len(modes)} file mode(s)" if modes else ""
            out.write(f"{host}: drift in {len(drift)} setting(s){also}{used}\n")
            if drift:
                _print_table([("directive", "wanted", "effective"), *drift], out)
            _print_modes(modes, out)
        else:
            out.write(f"{host}: compliant ({plural(len(settings), 'setting')}){used}\n")
    elif action == "plan":
        todo = [
            (n, s["before"] or "(unset)", s["wanted"] or "")
            for n, s in settings.items()
            if n in report.get("drift", [])
        ]
        files = printable(", ".join(report["files"]) or "none", indent=False)
        modes = report.get("modes", [])
        also = f"; file modes to change: {len(modes)}" if modes else ""
        out.write(
            f"{host}: {len(todo)} setting(s) to change; files to write: {files}{also}{used}\n"
        )
        if todo:
            _print_table([("directive", "effective now", "wanted"), *todo], out)
        _print_modes(modes, out)
    else:
        state = "changed" if report["changed"] else "unchanged"
        out.write(f"{host}: {state}, compliant={str(report['compliant']).lower()}{used}\n")


def main(argv: Sequence[str] | None = None) -> int:
    # paramiko logs failed handshakes with tracebacks from its own thread; every failure
    # already reaches the operator as one message from the engine.
    logging.getLogger("paramiko").addHandler(logging.NullHandler())
    logging.getLogger("paramiko").propagate = False
    parser = build_parser()
    args = parser.parse_args(argv)
    from hardening.front.terminal import Terminal

    terminal = Terminal()
    try:
        # --json: the report alone, no progress and no live line.
        return _main(args, None if args.json else terminal, terminal)
    except KeyboardInterrupt:
        print(
            "interrupted: a change already committed rolls back by itself after "
            f"--confirm-timeout ({args.confirm_timeout}s); staged files expire with their lock",
            file=sys.stderr,
        )
        return 130


def _main(args: argparse.Namespace, progress: Terminal | None, terminal: Terminal) -> int:
    try:
        request = _check_args(args)
        # The live line ends before the results are printed (they go to the same screen).
        with progress if progress is not None else contextlib.nullcontext():
            if args.inventory:
                from hardening.front import fleet  # only fleet runs pay for its imports

                reports = fleet.operate_all(_fleet_options(args), request, progress)
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
        for r, d in zip(reports, dicts, strict=True):
            text = io.StringIO()
            render(d, text, r.name)
            terminal.result(text.getvalue(), r.exit_code)
        if args.inventory:
            from hardening.front.fleet import summary

            terminal.plain(summary(reports))
    return max(r.exit_code for r in reports) if reports else 0


def _write_report(args: argparse.Namespace, reports: Sequence[Any]) -> None:
    """The evidence of every host in one report; a fleet run says each host's counts."""
    from hardening.front import evidence_output, evidence_table

    evidence = evidence_output.gather(reports)
    evidence_output.write(
        args.report, args.format or evidence_output.DEFAULT_REPORT_FORMAT, evidence
    )
    if args.inventory and not args.json:
        for host in evidence.hosts:
            print(evidence_table.summary_line(host), file=sys.stderr)


def _fleet_options(args: argparse.Namespace) -> Any:
    from hardening.front.fleet import FleetOptions

    return FleetOptions(
        action=args.action,
        inventory=args.inventory,
        parallel=args.parallel,
        wait=_wait(args),
        connect_wait=_connect_wait(args),
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
    from hardening.ops import api

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
        wait=_wait(args),
        connect_wait=_connect_wait(args),
        confirm_timeout=args.confirm_timeout,
        command_timeout=args.command_timeout,
    )
    return api.operate(args.action, target, request, options, progress)
