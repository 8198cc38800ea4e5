"""Nightly drift check of the servers themselves: `python -m hardening check` against
every server in a stack's outputs, with the stack's own hardening settings.

    pulumi stack output --json > outputs.json
    pulumi config --json --show-secrets > config.json      # never printed
    python scripts/drift_check.py --outputs outputs.json --config config.json --workdir DIR \
        [--reports REPORTS] [--summary "$GITHUB_STEP_SUMMARY"]

Exit 0 when every server is compliant, 1 on drift (or when a check could not run). With
--reports, each server's controls report is kept there (REPORTS/<server>.json and .junit.xml)
and a failing control fails the run too, whether or not it is a directive we manage;
--summary appends the failing controls as Markdown (scripts/py).
The private key is written to DIR with mode 0600 and never printed.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The project root, for the shared `hardening` package (this file runs as scripts/drift_check.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# After the path above.
from hardening.front import evidence_json, evidence_output
from hardening.model import defaults
from hardening.model.profiles import DEFAULT_PLACEMENT
from hardening.model.values import directive_text
from hardening.ops.evidence import Evidence
from hardening.planning.control_eval import FAIL

NAMESPACE = "hardened-ecs"


@dataclass(frozen=True)
class Server:
    name: str
    host: str
    fingerprint: str | None  # pinned host key, when the stack exports one


@dataclass(frozen=True)
class Settings:
    admin_user: str
    port: int
    profile: str
    overrides: Mapping[str, str]
    placement: str = DEFAULT_PLACEMENT  # judged where `up` put the values (hardening.placement)


def config_value(config: Mapping[str, Any], key: str) -> Any:
    """A value from `pulumi config --json` ({"ns:key": {"value", "objectValue"?, "secret"}})."""
    entry = config.get(f"{NAMESPACE}:{key}")
    if not isinstance(entry, Mapping):
        return None
    if "objectValue" in entry:
        return entry["objectValue"]
    return entry.get("value")


def settings_from(outputs: Mapping[str, Any], config: Mapping[str, Any]) -> Settings:
    hardening = config_value(config, "hardening")
    if isinstance(hardening, str):  # older CLIs give structured values as JSON text only
        hardening = json.loads(hardening)
    hardening = hardening if isinstance(hardening, Mapping) else {}
    admin = outputs.get("adminUser") or config_value(config, "adminUser") or defaults.ADMIN_USER
    return Settings(
        admin_user=str(admin),
        port=int(config_value(config, "sshPort") or defaults.PORT),
        profile=str(hardening.get("profile") or "baseline"),
        # `X11Forwarding: false` -> no, `MaxAuthTries: 3.0` -> 3: what sshd and the engine take.
        overrides={str(k): directive_text(v) for k, v in (hardening.get("set") or {}).items()},
        placement=str(hardening.get("placement") or DEFAULT_PLACEMENT),
    )


def targets_from(outputs: Mapping[str, Any]) -> list[Server]:
    """Every exported server with a public IP (`servers: {name: {publicIp, ...}}`)."""
    servers = outputs.get("servers")
    if not isinstance(servers, Mapping):
        return []
    found = []
    for name, exports in sorted(servers.items()):
        if isinstance(exports, Mapping) and exports.get("publicIp"):
            fingerprint = exports.get("hostKeyFingerprint")
            found.append(Server(str(name), str(exports["publicIp"]), fingerprint or None))
    return found


def check_command(
    target: Server, settings: Settings, identity: Path, known_hosts: Path
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "hardening",
        "check",
        "--host",
        target.host,
        "--port",
        str(settings.port),
        "--user",
        settings.admin_user,  # root is closed once hardened
        "--identity",
        str(identity),
        "--admin-user",
        settings.admin_user,
        "--profile",
        settings.profile,
        "--placement",
        settings.placement,
        "--known-hosts",
        str(known_hosts),
        "--wait",
        "60",
    ]
    overrides = dict(settings.overrides)
    if settings.port != defaults.PORT:
        # sshd is to stay on the stack's port: part of what is checked, as the SshdHardening's
        # refresh checks it (components/sshd_hardening/settings.request_overrides).
        overrides["Port"] = str(settings.port)
    for directive, value in sorted(overrides.items()):
        command += ["--set", f"{directive}={value}"]
    if target.fingerprint:
        command += ["--host-key-fingerprint", target.fingerprint]
    else:
        # No pinned key exported: trust on first use within this run's empty known_hosts.
        command.append("--accept-new-host-key")
    return command


def write_identity(config: Mapping[str, Any], workdir: Path) -> Path:
    key = config_value(config, "sshPrivateKey")
    if not key:
        raise SystemExit(f"{NAMESPACE}:sshPrivateKey is not set in the stack config")
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = workdir / "id_drift"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(str(key).rstrip("\n") + "\n")
    return path


# --- the controls reports and the job summary ----------------------------------------


@dataclass(frozen=True)
class ServerControls:
    name: str
    evidence: Evidence | None  # None: no report was written
    why_none: str = ""

    @property
    def failing(self) -> bool:
        """A failing control, a host not checked or no report at all: each fails the job."""
        if self.evidence is None:
            return True
        return any(h.error or h.failed_ids for h in self.evidence.hosts)


def report_paths(reports: Path, name: str) -> tuple[Path, Path]:
    """(JSON, JUnit) report of server `name` (a stack output key: kept to safe characters)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "server"
    return reports / f"{safe}.json", reports / f"{safe}.junit.xml"


def collect(reports: Path, name: str, exit_code: int) -> ServerControls:
    """Read the JSON report `check` wrote for `name` and write its JUnit beside it."""
    json_path, junit_path = report_paths(reports, name)
    try:
        evidence = evidence_json.parse(json_path.read_text())
    except FileNotFoundError:
        return ServerControls(name, None, f"no report (check exited {exit_code})")
    except (ValueError, KeyError, TypeError) as exc:
        return ServerControls(name, None, f"unreadable report {json_path.name}: {exc}")
    evidence_output.write(str(junit_path), "junit", evidence)
    return ServerControls(name, evidence)


def _cell(text: str) -> str:
    # What a host printed goes into a Markdown table: no markup, no pipes, one line.
    return html.escape(" ".join(text.split())).replace("|", "&#124;")


def markdown(servers: list[ServerControls]) -> str:
    lines = ["### sshd controls", ""]
    failing_rows: list[str] = []
    for server in servers:
        if server.evidence is None:
            lines.append(f"- **{_cell(server.name)}**: {_cell(server.why_none)}")
            continue
        for h in server.evidence.hosts:
            where = f"**{_cell(server.name)}** ({_cell(h.host)}:{h.port})"
            if h.error:
                lines.append(f"- {where}: not checked: {_cell(h.error)}")
                continue
            counts = ", ".join(f"{n} {status}" for status, n in h.counts.items())
            lines.append(f"- {where}: {counts}")
            for r in h.results:
                if r.status == FAIL:
                    ids = ", ".join(r.control.benchmark_ids)
                    failing_rows.append(
                        f"| {_cell(server.name)} | `{r.control.id}` | {_cell(r.control.title)} "
                        f"| {_cell(ids)} | {_cell(r.expected)} | {_cell(r.actual)} |"
                    )
    if failing_rows:
        lines += [
            "",
            "#### Failing controls",
            "",
            "| server | control | title | benchmark IDs | expected | actual |",
            "| --- | --- | --- | --- | --- | --- |",
            *failing_rows,
        ]
    elif not any(s.failing for s in servers):
        lines += ["", "No failing control."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check every server of a stack for drift.")
    parser.add_argument("--outputs", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument(
        "--reports", type=Path, help="keep each server's controls report (JSON, JUnit) here"
    )
    parser.add_argument(
        "--summary", type=Path, help="append the failing controls as Markdown to this file"
    )
    args = parser.parse_args(argv)
    outputs = json.loads(args.outputs.read_text())
    config = json.loads(args.config.read_text())
    targets = targets_from(outputs)
    if not targets:
        print("drift-check: the stack exports no server with a public IP")
        return 1
    settings = settings_from(outputs, config)
    identity = write_identity(config, args.workdir)
    known_hosts = args.workdir / "known_hosts"
    if args.reports is not None:
        args.reports.mkdir(parents=True, exist_ok=True)
    status = 0
    controls: list[ServerControls] = []
    for target in targets:
        print(f"drift-check: {target.name} ({target.host})", flush=True)
        command = check_command(target, settings, identity, known_hosts)
        if args.reports is not None:
            report, _ = report_paths(args.reports, target.name)
            command += ["--report", str(report), "--format", "json"]
        result = subprocess.run(command)
        status = max(status, 1 if result.returncode else 0)
        if args.reports is not None:
            found = collect(args.reports, target.name, result.returncode)
            controls.append(found)
            status = max(status, 1 if found.failing else 0)
    if args.summary is not None and controls:
        with args.summary.open("a") as summary:
            summary.write(markdown(controls))
    return status


if __name__ == "__main__":
    sys.exit(main())
