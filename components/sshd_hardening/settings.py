"""The properties of one SshdHardening: names, defaults and the typed settings of an operation.

Shared by the resource (which sends the properties), the input check and the provider's CRUD
(which receive them). Only names, numbers and pure functions: nothing here opens a connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi.output import Unknown

from components.sshd_hardening.control_state import CONTROL_OUTPUT_NAMES
from hardening.change.transaction import STAGE_LEASE
from hardening.model import defaults
from hardening.model.profiles import DEFAULT_PLACEMENT, DEFAULT_PROFILE, Request
from hardening.model.values import directive_text
from hardening.ops import api

# What the engine sends for a value not known yet (preview). pulumi.dynamic hands Check and Diff
# an `Unknown` object for it (keep_unknowns); the raw string is accepted too.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

DEFAULT_PORT = defaults.PORT
DEFAULT_BOOTSTRAP_USER = "root"
DEFAULT_WAIT = defaults.WAIT  # seconds a booting instance gets to answer SSH with our key
MAX_WAIT = 3600.0
# `update` and `read` talk to a server that is already up: a refused key or a dead server
# should fail within minutes, not after the 5 minutes a booting instance gets. But a `pulumi up`
# killed mid-apply leaves the host's lock to its dead transaction until that one's lease (or
# its rollback watcher's confirm timeout) runs out, and the engine's one `wait` also bounds the
# wait for the lock: outwait it, so the next `pulumi up` converges instead of failing "busy".
RUNNING_WAIT = float(max(STAGE_LEASE, api.Options().confirm_timeout) + 30)
# Set (to 1) in the environment of `pulumi up` once the new key's public half is in the admin
# user's authorized_keys on every hardened server: only then may privateKey change in place.
KEY_INSTALLED_ENV = "SSHD_HARDENING_KEY_INSTALLED"

# Inputs; kept in the outputs too: `read` only receives the last outputs.
INPUT_NAMES = (
    "host",
    "port",
    "bootstrapUser",
    "adminUser",
    "privateKey",
    "profile",
    "overrides",
    "placement",  # where the values live on the server: the engine's --placement
    "expectedHostKeyFingerprint",
    "wait",
    "adoptAdminUser",
    "rotateHostKey",
    "instanceId",
    "label",
)
OUTPUT_NAMES = (
    "hostKeyFingerprint",
    "hostPublicKey",
    "effective",  # directive -> what `sshd -T` shows on the server
    "compliant",
    "changed",
    "drift",
    "openssh",
    *CONTROL_OUTPUT_NAMES,  # the control results (control_state.py)
)
# A different server: harden it from scratch (first contact). With `instanceId` the instance
# says which server it is: a new address alone (an economical stop released the public IP) is
# the same server, updated at its new address and pinned to the key recorded for it.
REPLACE_ON = ("host", "port")
REPLACE_ON_INSTANCE = ("instanceId", "port")
# Re-apply in place. bootstrapUser and wait only matter to later operations: no update for them.
# A new placement moves the values between the drop-in and the block at the top of sshd_config.
UPDATE_ON = (
    "adminUser",
    "privateKey",
    "profile",
    "overrides",
    "expectedHostKeyFingerprint",
    "placement",
)
# Inputs added after states were recorded: what one means where it is absent (a state
# recorded before it existed was hardened with that).
LATER_INPUTS = {"placement": DEFAULT_PLACEMENT}


def is_unknown(value: object) -> bool:
    """True for a value (or a list/map holding one) that is not known during a preview."""
    if isinstance(value, Unknown) or value == UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(is_unknown(v) for v in value)
    return False


def same_server(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """Whether the new inputs name the server the old state hardened (unknown: no).

    By its instance when both name one (an economical stop changes the address, not the
    server), else by its address.
    """
    key = "instanceId" if olds.get("instanceId") and news.get("instanceId") else "host"
    new = news.get(key)
    return not is_unknown(new) and new == olds.get(key)


@dataclass(frozen=True)
class Settings:
    """The inputs of one operation, typed; built only from checked properties."""

    host: str
    port: int
    bootstrap_user: str
    admin_user: str
    private_key: str = field(repr=False)
    request: Request
    expected_fingerprint: str | None
    wait: float
    rotate_host_key: bool = False
    label: str | None = None  # progress lines' name for the server (no diff: display only)

    @classmethod
    def of(cls, props: Mapping[str, Any]) -> Settings:
        overrides = props.get("overrides") or {}
        expected = props.get("expectedHostKeyFingerprint")
        return cls(
            host=str(props["host"]),
            port=int(props.get("port", DEFAULT_PORT)),
            bootstrap_user=str(props.get("bootstrapUser") or DEFAULT_BOOTSTRAP_USER),
            admin_user=str(props["adminUser"]),
            private_key=str(props["privateKey"]),
            request=Request(
                profile=str(props.get("profile") or DEFAULT_PROFILE),
                overrides={str(k): directive_text(v) for k, v in overrides.items()},
                admin_user=str(props["adminUser"]),
                adopt_admin=props.get("adoptAdminUser") is True,
                placement=str(props.get("placement") or DEFAULT_PLACEMENT),
            ),
            expected_fingerprint=str(expected) if expected else None,
            wait=float(props.get("wait", DEFAULT_WAIT)),
            rotate_host_key=props.get("rotateHostKey") is True,
            label=str(props["label"]) if props.get("label") else None,
        )

    def target(self, user: str, trust: api.HostKeyPolicy) -> api.TargetSpec:
        """This server, logged in to as `user` with privateKey, its host key trusted by `trust`."""
        key = api.KeySource(text=self.private_key, setting="privateKey")
        return api.TargetSpec(self.host, self.port, user, key, trust, self.label)

    @property
    def shown(self) -> str:
        """The server in progress lines: its label and address, or its address."""
        address = f"{self.host}:{self.port}"
        return f"{self.label} ({address})" if self.label else address

    def options(self, wait: float | None = None) -> api.Options:
        return api.Options(wait=self.wait if wait is None else wait)
