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
    "managePort",
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
# Without `managePort`, a new port is another sshd to harden from scratch (it listens where its
# host put it). With it (the program's servers: sshPort), the resource owns sshd's port: a new
# port is the same server moving its sshd, an update (Settings.connect_port), not a replace.
REPLACE_ON = ("host", "port")
REPLACE_ON_INSTANCE = ("instanceId", "port")
# Re-apply in place. bootstrapUser and wait only matter to later operations: no update for them;
# managePort only says how a later port change is done. A new placement moves the values
# between the drop-in and the block at the top of sshd_config.
UPDATE_ON = (
    "adminUser",
    "privateKey",
    "profile",
    "overrides",
    "expectedHostKeyFingerprint",
    "placement",
)
# The sshd directive `port` becomes in the request; `overrides` may not name it (one place).
PORT_DIRECTIVE = "Port"
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


def port_of(props: Mapping[str, Any]) -> int:
    """The `port` of checked properties or a state (numbers arrive as floats)."""
    return int(props.get("port", DEFAULT_PORT))


def manages_port(props: Mapping[str, Any]) -> bool:
    return props.get("managePort") is True


# An output: a request for this server named Port once, so every later one does (below).
PORT_MANAGED = "portManaged"


def request_overrides(
    overrides: Mapping[str, Any],
    port: int,
    moving: bool,
    manage: bool = True,
    managed_before: bool = False,
) -> dict[str, str]:
    """The engine's overrides: the given ones, and Port when the resource owns sshd's port and
    sshd is not (to stay) on 22, or the engine has managed Port on this server before. Once it
    has, every request keeps it: one without Port would have the engine put the host's own
    Port lines back (a server that booted on 2222 and moved to 22: its boot drop-in's
    `Port 2222`), a move of its own to a port the security group has closed.

    On 22, never moved, the request is what it always was (existing stacks see no change).
    """
    texts = {str(k): directive_text(v) for k, v in overrides.items()}
    if manage and (port != DEFAULT_PORT or moving or managed_before):
        texts[PORT_DIRECTIVE] = str(port)
    return texts


@dataclass(frozen=True)
class Settings:
    """The inputs of one operation, typed; built only from checked properties.

    ``port``: where sshd is to listen. ``connect_port``: where it listens now, if that is
    another port (an update that moves it): the engine connects there, is asked for ``Port``
    = ``port``, and proves a fresh login on ``port`` before it confirms.
    """

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
    connect_port: int | None = None

    @classmethod
    def of(
        cls,
        props: Mapping[str, Any],
        connect_port: int | None = None,
        port_managed: bool = False,
    ) -> Settings:
        overrides = props.get("overrides") or {}
        expected = props.get("expectedHostKeyFingerprint")
        port = port_of(props)
        moving = connect_port is not None and connect_port != port
        return cls(
            host=str(props["host"]),
            port=port,
            bootstrap_user=str(props.get("bootstrapUser") or DEFAULT_BOOTSTRAP_USER),
            admin_user=str(props["adminUser"]),
            private_key=str(props["privateKey"]),
            request=Request(
                profile=str(props.get("profile") or DEFAULT_PROFILE),
                overrides=request_overrides(
                    overrides, port, moving, manages_port(props), port_managed
                ),
                admin_user=str(props["adminUser"]),
                adopt_admin=props.get("adoptAdminUser") is True,
                placement=str(props.get("placement") or DEFAULT_PLACEMENT),
            ),
            expected_fingerprint=str(expected) if expected else None,
            wait=float(props.get("wait", DEFAULT_WAIT)),
            rotate_host_key=props.get("rotateHostKey") is True,
            label=str(props["label"]) if props.get("label") else None,
            connect_port=connect_port if moving else None,
        )

    @property
    def asks_port(self) -> bool:
        """This operation's request names Port (recorded as PORT_MANAGED)."""
        return PORT_DIRECTIVE in self.request.overrides

    @property
    def address(self) -> str:
        """host:port where this operation connects (before a move: the old port)."""
        return f"{self.host}:{self.port if self.connect_port is None else self.connect_port}"

    def target(self, user: str, trust: api.HostKeyPolicy) -> api.TargetSpec:
        """This server, logged in to as `user` with privateKey, its host key trusted by `trust`."""
        key = api.KeySource(text=self.private_key, setting="privateKey")
        port = self.port if self.connect_port is None else self.connect_port
        return api.TargetSpec(self.host, port, user, key, trust, self.label)

    @property
    def shown(self) -> str:
        """The server in progress lines: its label and address, or its address."""
        return f"{self.label} ({self.address})" if self.label else self.address

    def options(self, wait: float | None = None) -> api.Options:
        return api.Options(wait=self.wait if wait is None else wait)
