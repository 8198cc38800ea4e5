"""Nightly drift check of the servers themselves: `python -m hardening check` against
every server in a stack's outputs, with the stack's own hardening settings.

    pulumi stack output --json > outputs.json
    pulumi config --json --show-secrets > config.json      # never printed
    python scripts/drift_check.py --outputs outputs.json --config config.json --workdir DIR

Exit 0 when every server is compliant, 1 on drift (or when a check could not run).
The private key is written to DIR with mode 0600 and never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The project root, for the shared `hardening` package (this file runs as scripts/drift_check.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hardening.model import defaults  # after the path above
from hardening.model.values import directive_text

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
        "--known-hosts",
        str(known_hosts),
        "--wait",
        "60",
    ]
    for directive, value in sorted(settings.overrides.items()):
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check every server of a stack for drift.")
    parser.add_argument("--outputs", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
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
    status = 0
    for target in targets:
        print(f"drift-check: {target.name} ({target.host})", flush=True)
        result = subprocess.run(check_command(target, settings, identity, known_hosts))
        status = max(status, 1 if result.returncode else 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
