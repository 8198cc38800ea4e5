"""SshdHardening's provider: one server's sshd hardening, done by the ``hardening`` engine.

- ``create``: ``apply`` as the bootstrap user. The program's servers boot closed with a host key
  it knows (components/cloudinit.py): it bootstraps as the admin user, the first connection is
  pinned to ``expectedHostKeyFingerprint``, and ``rotateHostKey`` then gives the server a fresh
  host key over that channel, whose fingerprint (``hostKeyFingerprint``) and public line
  (``hostPublicKey``) the state records. Without an expected key (root bootstrap of some other
  host) the key seen first is recorded; the engine ensures the admin user before root closes.
- ``update``: ``apply`` again as the admin user (root is closed by then), host key pinned.
  The input validation (input_validation.py) refuses a new private key for a server hardened
  with the old one until the operator says the new public key is installed there
  (``SSHD_HARDENING_KEY_INSTALLED=1``). With ``managePort``, a new ``port`` moves sshd there
  (Settings.connect_port): connected on the recorded port, the engine sets ``Port`` and proves a
  login on the new one (without it, a new port is another sshd: a replace).
- ``read`` (``pulumi refresh``): the engine's drift check; what ``sshd -T`` shows becomes the
  outputs, so a hand edit on the server shows as drift, and ``diff`` then asks for an update.
  ``create``, ``update`` and ``read`` also record the control results of the host as the engine
  last read it (control_state.py): outputs only, so they never cause a diff.
- ``delete``: leaves the server as it is and says so.

The provider is pickled by dill *by reference* (class in an importable module) and re-imported
in Pulumi's provider process (``python -m pulumi.dynamic``, started in the project directory).
So this module has no side effects at import, and the provider keeps no state: every operation
opens its own SSH connections through the engine and closes them before returning.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from components.sshd_hardening.control_state import control_outputs
from components.sshd_hardening.input_validation import validate_inputs
from components.sshd_hardening.settings import (
    DEFAULT_PORT,
    INPUT_NAMES,
    LATER_INPUTS,
    PORT_MANAGED,
    REPLACE_ON,
    REPLACE_ON_INSTANCE,
    RUNNING_WAIT,
    UPDATE_ON,
    Settings,
    is_unknown,
    manages_port,
    port_of,
)
from hardening.front.display import printable
from hardening.model.errors import EXIT_CONNECT
from hardening.model.progress import Progress, Status
from hardening.ops import api
from hardening.ops.api import HostKeyPolicy


class SshdHardeningError(Exception):
    """The engine could not harden or check the host; the message is the engine's (no key)."""


def _say(message: str) -> None:
    # The provider process has no engine connection (pulumi.dynamic never hands it the engine
    # address), so pulumi.log writes "info: ..." to stderr, which the engine shows as a
    # diagnostic of the `pulumi up`/`refresh` run.
    pulumi.log.info(f"sshd hardening: {printable(message)}")  # it may quote the host


def _progress() -> Progress:
    """One operation's progress: a wait (a retry, a held lock) is said once per change of what
    it is waiting on, not once per retry (the engine's terminal does the same)."""
    said: dict[str, str] = {}

    def say(message: str) -> None:
        if isinstance(message, Status):
            if said.get(message.host) == message.state:
                return
            said[message.host] = message.state
        _say(message)

    return say


def _succeeded(action: str, s: Settings, report: api.Report, accept: tuple[int, ...]) -> None:
    if report.exit_code in accept:
        return
    message = (
        f"sshd hardening {action} of {s.address} failed "
        f"(engine exit {report.exit_code}): {printable(report.error or 'no reason given')}"
    )
    if report.rolled_back:
        message += " [the host was rolled back to its previous configuration]"
    # The engine never quotes key material; make sure of it anyway.
    for line in s.private_key.strip().splitlines():
        if len(line) >= 16 and "PRIVATE KEY" not in line:
            message = message.replace(line, "[redacted]")
    raise SshdHardeningError(message)


def _outputs(
    props: Mapping[str, Any], report: api.Report, fingerprint: str | None
) -> dict[str, Any]:
    outs = {k: props[k] for k in INPUT_NAMES if k in props}
    outs.update(
        hostKeyFingerprint=fingerprint,
        # What `sshd -T` shows for each managed directive (absent: sshd does not print it).
        effective={name: s["after"] for name, s in report.settings.items()},
        compliant=report.compliant,
        drift=report.drift,
        openssh=report.openssh,
        **control_outputs(report.evidence),
    )
    return outs


def _on_running_server(action: str, s: Settings, pin: str) -> api.Report:
    """`action` on a server that is up and hardened: as the admin user (root's login is closed),
    its host key pinned to `pin`, waiting no longer than RUNNING_WAIT."""
    target = s.target(s.admin_user, HostKeyPolicy(pinned_fingerprint=pin))
    return api.operate(action, target, s.request, s.options(min(s.wait, RUNNING_WAIT)), _progress())


class SshdHardeningProvider(dynamic.ResourceProvider):
    """CRUD for SshdHardening. Stateless: nothing on self, nothing at module level."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        # Pulumi's name for the input check; no connection is opened.
        return validate_inputs(olds, news)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        # `olds` are the last outputs (inputs included); `news` the checked new inputs.
        def changed(name: str) -> bool:
            absent = LATER_INPUTS.get(name)
            new, old = news.get(name, absent), olds.get(name, absent)
            if name == "privateKey" and is_unknown(new):
                # A preview without sshPrivateKey sends an unknown key: that alone is no
                # change (else every preview shows an update and --expect-no-changes fails).
                return False
            return is_unknown(new) or new != old

        by_instance = olds.get("instanceId") is not None and news.get("instanceId") is not None
        replace_on: tuple[str, ...] = REPLACE_ON_INSTANCE if by_instance else REPLACE_ON
        if manages_port(news):  # a new port is a move of the same sshd: an update
            replace_on = tuple(n for n in replace_on if n != "port")
        replaces = [n for n in replace_on if changed(n)]
        if replaces:
            # An unknown host during preview: the instance is being created or replaced.
            return dynamic.DiffResult(changes=True, replaces=replaces, delete_before_replace=False)
        updates = [name for name in (*UPDATE_ON, "host", "port") if changed(name)]
        # A refresh found the server drifted: `pulumi up` puts the settings back.
        drifted = olds.get("compliant") is False
        return dynamic.DiffResult(changes=bool(updates) or drifted, replaces=[])

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        s = Settings.of(props)
        with tempfile.TemporaryDirectory(prefix="sshd-hardening-") as tmp:
            # First contact: insist on the key the server was given (user data), or, for a
            # host we know nothing about, record the key it presents; pinned from then on.
            host_keys = (
                HostKeyPolicy(pinned_fingerprint=s.expected_fingerprint)
                if s.expected_fingerprint
                else HostKeyPolicy(known_hosts=Path(tmp) / "known_hosts", accept_new=True)
            )
            report = api.operate(
                "apply",
                s.target(s.bootstrap_user, host_keys),
                s.request,
                s.options(),
                _progress(),
            )
        # Cannot connect, key refused, another host key: what a server looks like whose user
        # data did not take effect.
        if report.exit_code == EXIT_CONNECT and s.expected_fingerprint:
            report.error = f"{report.error or 'no reason given'}. {first_boot_hint(s)}"
        _succeeded("create", s, report, accept=(0,))
        fingerprint, public = report.host_key_fingerprint, None
        if s.rotate_host_key:
            fingerprint, public = self._rotate(s, str(fingerprint))
        outs = _outputs(props, report, fingerprint)
        outs["hostPublicKey"] = public
        outs["changed"] = report.changed
        outs[PORT_MANAGED] = s.asks_port
        return dynamic.CreateResult(id_=f"{s.host}:{s.port}", outs=outs)

    @staticmethod
    def _rotate(s: Settings, pin: str) -> tuple[str, str]:
        """Right after the first apply: a fresh host key, over the channel pinned to `pin`.

        The boot key came through the user data, which anyone who may read the instance's
        attributes can see; once this returns it opens nothing.
        """
        _say(f"{s.shown}: replacing the boot host key {pin} with a fresh one")
        report = _on_running_server("rotate-host-key", s, pin)
        _succeeded("host key rotation", s, report, accept=(0,))
        if not (report.host_key_fingerprint and report.host_public_key):
            raise SshdHardeningError(f"host key rotation of {s.host} reported no new key")
        return report.host_key_fingerprint, report.host_public_key

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        # A new `port` moves sshd: connect where the state says it listens, ask for the new
        # one. Only a confirmed move returns outputs with the new port; a failed one raises,
        # so the state keeps the old port, where the engine's rollback left the server.
        s = Settings.of(
            news,
            connect_port=port_of(olds) if manages_port(news) else None,
            port_managed=olds.get(PORT_MANAGED) is True,
        )
        # The recorded key first: after the first apply the boot key (expected) is gone.
        pin = olds.get("hostKeyFingerprint") or s.expected_fingerprint
        if not pin:
            raise SshdHardeningError(
                f"no host key recorded for {s.host}:{s.port}; replace this resource "
                "(pulumi up --replace <urn>) to harden it from first contact again"
            )
        # After the first apply root is closed: the admin user is the way in. The server is
        # up, so a refused key (e.g. a rotated one not installed) fails fast.
        # A move cut short after sshd confirmed it (the `pulumi up` killed before it saved the
        # state) left the server on the new port: the engine tries there when nothing answers
        # on the old one (Session.open_first), so one call converges.
        report = _on_running_server("apply", s, str(pin))
        if report.exit_code != 0 and olds.get("privateKey") not in (None, s.private_key):
            report.error = (
                f"{report.error or 'no reason given'} (privateKey changed: is its public half "
                f"in {s.admin_user}'s authorized_keys on {s.host}?)"
            )
        _succeeded("update", s, report, accept=(0,))
        outs = _outputs(news, report, str(pin))
        outs["hostPublicKey"] = olds.get("hostPublicKey")
        outs["changed"] = report.changed
        outs[PORT_MANAGED] = s.asks_port
        return dynamic.UpdateResult(outs=outs)

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        s = Settings.of(props, port_managed=props.get(PORT_MANAGED) is True)
        pin = props.get("hostKeyFingerprint") or s.expected_fingerprint
        if not pin:
            raise SshdHardeningError(f"no host key recorded for {s.host}:{s.port}")
        # The engine's drift check (not the input check above): what sshd -T shows, vs wanted.
        report = _on_running_server("check", s, str(pin))
        _succeeded("check", s, report, accept=(0, 1))  # 1: drift, reported in the outputs
        outs = _outputs(props, report, str(pin))
        outs["hostPublicKey"] = props.get("hostPublicKey")
        outs["changed"] = props.get("changed", False)  # what the last apply did
        outs[PORT_MANAGED] = s.asks_port
        return dynamic.ReadResult(id_, outs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        port = props.get("port", DEFAULT_PORT)
        port = int(port) if isinstance(port, int | float) else port  # numbers arrive as floats
        server = f"{props.get('host')}:{port}"
        if props.get("label"):
            server = f"{props['label']} ({server})"
        _say(
            f"{server} is no longer managed; "
            "its sshd keeps the hardened configuration (nothing on the server was changed)"
        )


def first_boot_hint(s: Settings) -> str:
    """What a failed first contact with a server that should have booted closed means."""
    return (
        f"The server was to boot with the host key {s.expected_fingerprint} and "
        f"{s.bootstrap_user}'s login from its user data: if it presents another key or "
        "refuses the login, cloud-init did not run or failed. Nothing here trusted the key it "
        "showed, and nothing was changed; on Alibaba's images root's key and any password come "
        "only through cloud-init, so no credential was handed out either. Get in through the "
        "ECS console's "
        "VNC or Cloud Assistant (`cloud-init status --long`, /var/log/cloud-init.log), or "
        "replace the server: pulumi up --replace <instance urn>"
    )
