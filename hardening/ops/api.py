"""The engine's front door: run an operation on a host described in plain values.

The CLI, fleet mode and the Pulumi provider describe the host (address, port, user, where the
login key comes from, how to trust its host key) and call `operate` (apply/check/plan/
rotate-host-key), with a `HostKeyPolicy` saying how to trust the host's key; the transport's
target and the paramiko key are built here, so no adapter reaches into the transport.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import paramiko

from hardening.model import validation
from hardening.model.profiles import Request
from hardening.model.progress import Progress
from hardening.ops import engine, rotation
from hardening.ops.engine import Options, Report
from hardening.ssh import keys
from hardening.ssh.transport import Target
from hardening.ssh.trust import HostKeyPolicy

__all__ = [
    "HostKeyPolicy",
    "KeySource",
    "LoadedKey",
    "Options",
    "Report",
    "TargetSpec",
    "load_key",
    "operate",
    "operation",
]


@dataclass(frozen=True)
class KeySource:
    """Where the login key comes from: a file (`path`) or its text (`text`, PEM/OpenSSH).

    `setting` and `passphrase_hint` are how the operator gave it, for the load errors
    (`--identity`, `identity (host)`, `privateKey`).
    """

    path: str | None = None
    text: str | None = field(default=None, repr=False)
    passphrase: str | None = field(default=None, repr=False)
    setting: str = "--identity"
    passphrase_hint: str = "--passphrase-env NAME"


class LoadedKey:
    """A loaded login key: what it can log in with, and the overrides that would refuse it."""

    def __init__(self, pkey: paramiko.PKey) -> None:
        self._pkey = pkey

    @property
    def algorithms(self) -> tuple[str, ...]:
        return keys.signature_algorithms(self._pkey)

    @property
    def rsa_bits(self) -> int | None:
        return keys.rsa_bits(self._pkey)

    @property
    def public_line(self) -> str:
        return keys.public_line(self._pkey)

    def problems(self, overrides: Mapping[str, str]) -> list[validation.Problem]:
        """Overrides that would refuse this very key (checked before connecting)."""
        return validation.own_key_problems(overrides, self.algorithms, self.rsa_bits)


def load_key(source: KeySource) -> LoadedKey:
    """Read and decrypt the key; a UsageError (exit 2) names `source.setting` and the fix."""
    pkey = keys.load_private_key(
        path=source.path,
        text=source.text,
        passphrase=source.passphrase,
        setting=source.setting,
        passphrase_hint=source.passphrase_hint,
    )
    return LoadedKey(pkey)


@dataclass(frozen=True)
class TargetSpec:
    """One host to operate on, in the operator's terms."""

    host: str
    port: int
    user: str
    key: KeySource | LoadedKey
    trust: HostKeyPolicy = field(default_factory=HostKeyPolicy)
    name: str | None = None  # what progress lines call the host (default: its address)


def ssh_target(spec: TargetSpec) -> Target:
    """The transport's target for `spec` (loads the key when given as a KeySource)."""
    key = spec.key if isinstance(spec.key, LoadedKey) else load_key(spec.key)
    return Target(spec.host, spec.port, spec.user, key._pkey, spec.trust, spec.name)


Operation = Callable[[Target, Request, Options, Progress | None], Report]


def operation(action: str) -> Operation:
    """The engine's function for `action` (the names the CLI, inventory and reports use).

    Looked up on each call, so a test that replaces engine.apply reaches every adapter.
    """
    table: dict[str, Operation] = {
        "apply": engine.apply,
        "check": engine.check,
        "plan": engine.plan,
        "rotate-host-key": rotation.rotate_host_key,
    }
    return table[action]


def operate(
    action: str, spec: TargetSpec, request: Request, options: Options, progress: Progress | None
) -> Report:
    """Run `action` (see `operation`) on one host; every outcome is a Report.

    `progress` is called with each progress line (None: silent).
    """
    return operation(action)(ssh_target(spec), request, options, progress)
