"""The command line's words: flags, their defaults and help (examples, exit codes), `--version`,
and "did you mean" for a mistyped flag, subcommand or choice. Parsing only: hardening.cli acts.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import NoReturn

from hardening.front.evidence_output import DEFAULT_REPORT_FORMAT, REPORT_FORMATS
from hardening.model import defaults
from hardening.model.profiles import DEFAULT_PLACEMENT, DEFAULT_PROFILE, PLACEMENTS, PROFILES
from hardening.model.version import TOOL_NAME, tool_version

EXAMPLES = """\
examples:
  python -m hardening plan  --host 203.0.113.10 --user root --identity ~/.ssh/id_ed25519 \\
                            --accept-new-host-key
  python -m hardening apply --host 203.0.113.10 --user root --identity ~/.ssh/id_ed25519
  python -m hardening check --host 203.0.113.10 --user ops --identity ~/.ssh/id_ed25519
  python -m hardening apply --host 203.0.113.10 --user root --identity KEY --wait 300
                            (a server still booting: retry for up to 5 minutes)
  python -m hardening check --inventory hosts.yaml --parallel 20 --json
                            (a fleet; the inventory format is in README.md)

exit codes:
  0  done / compliant           1  check found drift
  2  bad usage or settings, found before connecting
  3  cannot connect or log in, host key unknown or changed
  4  apply failed and the host is back as it was
  130  interrupted
"""

PROFILE_HELP = (
    "minimal: PermitRootLogin no, PasswordAuthentication no, KbdInteractiveAuthentication no, "
    "PubkeyAuthentication yes; baseline: minimal plus AuthenticationMethods publickey, "
    "MaxAuthTries 3, LoginGraceTime 30, MaxStartups 10:30:60, forwarding off, LogLevel VERBOSE "
    "and crypto lists chosen for the host's OpenSSH (default %(default)s)"
)


# The standalone CLI's waits when --wait is not given: connect once (a mistyped port or host
# fails at once), but let a running cloud-init or another apply's lock finish.
LONG_WAIT = defaults.WAIT


def version_text() -> str:
    """`--version`: the project's version (pyproject.toml) and what it runs on."""
    try:
        paramiko = metadata.version("paramiko")
    except metadata.PackageNotFoundError:
        paramiko = "not installed"
    python = ".".join(map(str, sys.version_info[:3]))
    return (
        f"{TOOL_NAME} {tool_version()} (python -m hardening; Python {python}, paramiko {paramiko})"
    )


class _Parser(argparse.ArgumentParser):
    """argparse with "did you mean" for a mistyped flag, subcommand or choice."""

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: None = None
    ) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            # argparse reports a subcommand's unknown flag with the top-level usage; the
            # subcommand's own usage and flags are the helpful ones.
            sub = self._subcommand(getattr(parsed, "action", None)) or self
            flags = [o for a in sub._actions for o in a.option_strings if o.startswith("--")]
            # A mistyped flag leaves its value behind too: name the flags, not their values.
            shown = [x for x in extras if x.startswith("-")] or extras
            sub.error("; ".join(_unknown(extra, flags) for extra in shown))
        return parsed

    def _subcommand(self, name: str | None) -> argparse.ArgumentParser | None:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and name in action.choices:
                parser: argparse.ArgumentParser = action.choices[name]
                return parser
        return None

    def error(self, message: str) -> NoReturn:
        bad = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if bad:
            choices = re.findall(r"'([^']*)'", bad.group(2))
            close = difflib.get_close_matches(bad.group(1), choices, n=1, cutoff=0.5)
            if close:
                message += f"; did you mean {close[0]!r}?"
        super().error(message)


def _unknown(extra: str, flags: list[str]) -> str:
    if not extra.startswith("-"):
        return f"unrecognized argument: {extra}"
    close = difflib.get_close_matches(extra.split("=", 1)[0], flags, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else "; see --help"
    return f"unrecognized argument: {extra}{hint}"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m hardening",
        description="Harden sshd on a host over SSH: validated, verified, rolled back on failure.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="action", required=True, metavar="apply|check|plan")
    for action, text in (
        ("apply", "harden the host (idempotent)"),
        ("check", "read-only: exit 1 and a table when the host drifted"),
        ("plan", "read-only: show what apply would change"),
    ):
        p = sub.add_parser(
            action,
            help=text,
            description=text,
            epilog=EXAMPLES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        target = p.add_argument_group("target")
        target.add_argument("--host", help="host name or IP address")
        target.add_argument(
            "--port", type=int, default=defaults.PORT, help="SSH port (default %(default)s)"
        )
        target.add_argument("--user", help="user to log in as (root on a fresh Alibaba image)")
        target.add_argument("--identity", metavar="KEYFILE", help="private key file")
        target.add_argument(
            "--passphrase-env",
            metavar="NAME",
            help="environment variable holding the key's passphrase (never on the command line)",
        )
        target.add_argument(
            "--inventory",
            metavar="FILE",
            help="YAML list of hosts (fleet mode; format in README.md)",
        )
        target.add_argument(
            "--parallel",
            type=int,
            default=defaults.PARALLEL,
            metavar="N",
            help="hosts at once (fleet mode; default %(default)s)",
        )
        keys = p.add_argument_group("host key (checked like OpenSSH)")
        keys.add_argument(
            "--known-hosts", metavar="FILE", help="known_hosts file (default ~/.ssh/known_hosts)"
        )
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
            default=defaults.ADMIN_USER,
            metavar="USER",
            help="sudo user that keeps access when root is closed (default %(default)s)",
        )
        settings.add_argument(
            "--adopt-admin-user",
            action="store_true",
            help="the admin user already exists and is yours: give it our key and sudo "
            "(without this an account hardened-ecs did not create is refused)",
        )
        settings.add_argument(
            "--profile", default=DEFAULT_PROFILE, choices=PROFILES, help=PROFILE_HELP
        )
        settings.add_argument(
            "--placement",
            default=DEFAULT_PLACEMENT,
            choices=PLACEMENTS,
            help="dropin: our drop-in in sshd_config.d where sshd_config's Include reads it first, "
            "else a managed block at the top of sshd_config; block: that block on every host, "
            "where scanners that read only sshd_config (OpenSCAP) look (default %(default)s)",
        )
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
            default=defaults.CONFIRM_TIMEOUT,
            metavar="SECONDS",
            help="seconds after which the host rolls back an unconfirmed change "
            "(default %(default)s)",
        )
        timing.add_argument(
            "--wait",
            type=float,
            metavar="SECONDS",
            help="retry an unreachable host (refused, no banner, key not yet accepted) for this "
            f"long, e.g. while it boots; also how long to wait for cloud-init and for another "
            f"apply's lock (default: connect once and fail at once; wait {LONG_WAIT:g}s for "
            "cloud-init and a lock)",
        )
        timing.add_argument(
            "--command-timeout",
            type=float,
            default=defaults.COMMAND_TIMEOUT,
            metavar="SECONDS",
            help="seconds one command on the host may take in total (default %(default)g)",
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
        p.add_argument(
            "--json",
            action="store_true",
            help="print the report as JSON on stdout instead of text, and no progress: one "
            "object for --host, an array of them (inventory order) for --inventory",
        )
    return parser
