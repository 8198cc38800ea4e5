"""SshdHardening: the sshd hardening of one server, as a resource in the Pulumi graph.

A ``pulumi.dynamic.Resource`` whose provider calls the ``hardening`` engine over SSH:

- ``create``: ``apply`` as the bootstrap user. The program's servers boot closed with a host key
  it knows (components/cloudinit.py): it bootstraps as the admin user, the first connection is
  pinned to ``expectedHostKeyFingerprint``, and ``rotateHostKey`` then gives the server a fresh
  host key over that channel, whose fingerprint (``hostKeyFingerprint``) and public line
  (``hostPublicKey``) the state records. Without an expected key (root bootstrap of some other
  host) the key seen first is recorded; the engine ensures the admin user before root closes.
- ``update``: ``apply`` again as the admin user (root is closed by then), host key pinned.
  ``check`` refuses a new private key for a server hardened with the old one until the
  operator says the new public key is installed there (``SSHD_HARDENING_KEY_INSTALLED=1``).
- ``read`` (``pulumi refresh``): ``check``; the live effective values become the outputs, so a
  hand edit on the server shows as drift, and ``diff`` then asks for an update.
- ``delete``: leaves the server as it is and says so.

The provider is pickled by dill *by reference* (class in an importable module) and re-imported
in Pulumi's provider process (``python -m pulumi.dynamic``, started in the project directory).
So this module has no side effects at import, and the provider keeps no state: every operation
opens its own SSH connections through the engine and closes them before returning.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pulumi
import pulumi.dynamic as dynamic
from pulumi.output import Unknown

from hardening import engine
from hardening.desired import DEFAULT_PROFILE, Request, own_key_problems, validate_request
from hardening.display import printable
from hardening.errors import EXIT_CONNECT, UsageError
from hardening.keys import load_private_key, rsa_bits, signature_algorithms
from hardening.transaction import STAGE_LEASE
from hardening.transport import HostKeyPolicy, Target
from hardening.values import directive_text

# What the engine sends for a value not known yet (preview). pulumi.dynamic hands Check and Diff
# an `Unknown` object for it (keep_unknowns); the raw string is accepted too.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

DEFAULT_PORT = 22
DEFAULT_BOOTSTRAP_USER = "root"
DEFAULT_WAIT = 300.0  # seconds a booting instance gets to answer SSH with our key
MAX_WAIT = 3600.0
# `update` and `read` talk to a server that is already up: a refused key or a dead server
# should fail within minutes, not after the 5 minutes a booting instance gets. But a `pulumi up`
# killed mid-apply leaves the host's lock to its dead transaction until that one's lease (or
# its rollback watcher's confirm timeout) runs out, and the engine's one `wait` also bounds the
# wait for the lock: outwait it, so the next `pulumi up` converges instead of failing "busy".
RUNNING_WAIT = float(max(STAGE_LEASE, engine.Options().confirm_timeout) + 30)
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
    "expectedHostKeyFingerprint",
    "wait",
    "adoptAdminUser",
    "rotateHostKey",
    "instanceId",
)
OUTPUT_NAMES = (
    "hostKeyFingerprint",
    "hostPublicKey",
    "effective",
    "compliant",
    "changed",
    "drift",
    "openssh",
)
# A different server: harden it from scratch (first contact). With `instanceId` the instance
# says which server it is: a new address alone (an economical stop released the public IP) is
# the same server, updated at its new address and pinned to the key recorded for it.
REPLACE_ON = ("host", "port")
REPLACE_ON_INSTANCE = ("instanceId", "port")
# Re-apply in place. bootstrapUser and wait only matter to later operations: no update for them.
UPDATE_ON = ("adminUser", "privateKey", "profile", "overrides", "expectedHostKeyFingerprint")

_FINGERPRINT = re.compile(r"SHA256:[A-Za-z0-9+/]{43}=?")
_LOGIN = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
_HOST = re.compile(r"[A-Za-z0-9._:\-\[\]]+")


class SshdHardeningError(Exception):
    """The engine could not harden or check the host; the message is the engine's (no key)."""


def is_unknown(value: object) -> bool:
    """True for a value (or a list/map holding one) that is not known during a preview."""
    if isinstance(value, Unknown) or value == UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(is_unknown(v) for v in value)
    return False


def _say(message: str) -> None:
    # The provider process has no engine connection (pulumi.dynamic never hands it the engine
    # address), so pulumi.log writes "info: ..." to stderr, which the engine shows as a
    # diagnostic of the `pulumi up`/`refresh` run.
    pulumi.log.info(f"sshd hardening: {printable(message)}")  # it may quote the host


@dataclass(frozen=True)
class _Settings:
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

    @classmethod
    def of(cls, props: Mapping[str, Any]) -> _Settings:
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
            ),
            expected_fingerprint=str(expected) if expected else None,
            wait=float(props.get("wait", DEFAULT_WAIT)),
            rotate_host_key=props.get("rotateHostKey") is True,
        )

    def target(self, user: str, host_keys: HostKeyPolicy) -> Target:
        key = load_private_key(text=self.private_key, setting="privateKey")
        return Target(self.host, self.port, user, key, host_keys)

    def options(self, wait: float | None = None) -> engine.Options:
        return engine.Options(wait=self.wait if wait is None else wait)


def _succeeded(action: str, s: _Settings, report: engine.Report, accept: tuple[int, ...]) -> None:
    if report.exit_code in accept:
        return
    message = (
        f"sshd hardening {action} of {s.host}:{s.port} failed "
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
    props: Mapping[str, Any], report: engine.Report, fingerprint: str | None
) -> dict[str, Any]:
    outs = {k: props[k] for k in INPUT_NAMES if k in props}
    outs.update(
        hostKeyFingerprint=fingerprint,
        # What `sshd -T` shows for each managed directive (absent: sshd does not print it).
        effective={name: s["after"] for name, s in report.settings.items()},
        compliant=report.compliant,
        drift=report.drift,
        openssh=report.openssh,
    )
    return outs


class SshdHardeningProvider(dynamic.ResourceProvider):
    """CRUD for SshdHardening. Stateless: nothing on self, nothing at module level."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        inputs = dict(news)
        inputs.setdefault("port", DEFAULT_PORT)
        inputs.setdefault("bootstrapUser", DEFAULT_BOOTSTRAP_USER)
        inputs.setdefault("profile", DEFAULT_PROFILE)
        inputs.setdefault("overrides", {})
        inputs.setdefault("wait", DEFAULT_WAIT)
        failures: list[dynamic.CheckFailure] = []

        def fail(prop: str, reason: str) -> None:
            failures.append(dynamic.CheckFailure(prop, reason))

        host = inputs.get("host")
        if not is_unknown(host) and (not isinstance(host, str) or not _HOST.fullmatch(host)):
            fail("host", "must be the server's address (the instance's publicIp)")

        port = inputs["port"]
        if not is_unknown(port):
            if isinstance(port, float) and port.is_integer():
                port = inputs["port"] = int(port)
            if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
                fail("port", f"must be a TCP port number, got {port!r}")

        boot = inputs["bootstrapUser"]
        if not is_unknown(boot) and (not isinstance(boot, str) or not _LOGIN.fullmatch(boot)):
            fail("bootstrapUser", f"{boot!r} is not a login name (root on a fresh image)")

        overrides = inputs["overrides"]
        profile, admin = inputs["profile"], inputs.get("adminUser")
        if not is_unknown(overrides) and not isinstance(overrides, Mapping):
            fail("overrides", "must be a map of sshd directive to value")
        elif admin is None:
            fail("adminUser", "is required: the sudo user that keeps access once root is closed")
        elif not any(is_unknown(v) for v in (profile, admin, overrides)):
            values = {str(k): directive_text(v) for k, v in overrides.items()}
            for problem in validate_request(str(profile), values, str(admin)):
                prop = (
                    "profile"
                    if problem.startswith("profile ")
                    else "adminUser"
                    if problem.startswith("admin user ")
                    else "overrides"
                )
                fail(prop, problem)

        # The engine creates the admin user only while it closes root's login: a new admin
        # name on an already hardened server would never exist, and the next update would be
        # locked out. A new server (new host) starts from root again, so that is fine.
        old_admin = olds.get("adminUser")
        if (
            old_admin
            and admin is not None
            and not is_unknown(admin)
            and admin != old_admin
            and same_server(olds, inputs)
        ):
            fail(
                "adminUser",
                f"changing the admin user of the hardened server {host} from {old_admin!r} to "
                f"{admin!r} is not supported (root is closed, so nothing could create the new "
                "user); keep the old name, or replace the server so it is hardened from scratch",
            )

        key = inputs.get("privateKey")
        if key is None or key == "":
            fail("privateKey", "is required: the private key that logs in to the server")
        elif not is_unknown(key):  # unknown: a preview run without the key
            try:
                pkey = load_private_key(text=str(key), setting="privateKey")
            except UsageError as exc:  # says what is wrong, never quotes the key
                fail("privateKey", str(exc))
            else:
                self._check_rotation(olds, inputs, key, admin, fail)
                if isinstance(overrides, Mapping) and not is_unknown(overrides):
                    values = {str(k): directive_text(v) for k, v in overrides.items()}
                    # Settings that would refuse the very key the hardening logs in with.
                    for problem in own_key_problems(
                        values, signature_algorithms(pkey), rsa_bits(pkey)
                    ):
                        fail("overrides", problem)

        expected = inputs.get("expectedHostKeyFingerprint")
        if (
            expected is not None
            and not is_unknown(expected)
            and (not isinstance(expected, str) or not _FINGERPRINT.fullmatch(expected))
        ):
            fail("expectedHostKeyFingerprint", "must look like SHA256:<43 base64 characters>")

        for flag in ("adoptAdminUser", "rotateHostKey"):
            value = inputs.get(flag, False)
            if not is_unknown(value) and not isinstance(value, bool):
                fail(flag, "must be true or false")
        if inputs.get("rotateHostKey") is True and not expected:
            fail(
                "rotateHostKey",
                "needs expectedHostKeyFingerprint: a fresh host key is only worth something "
                "over a channel pinned to a key known beforehand",
            )

        wait = inputs["wait"]
        if not is_unknown(wait) and (
            not isinstance(wait, int | float) or isinstance(wait, bool) or not 0 <= wait <= MAX_WAIT
        ):
            fail("wait", f"must be a number of seconds from 0 to {MAX_WAIT:g}")
        return dynamic.CheckResult(inputs, failures)

    @staticmethod
    def _check_rotation(
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        key: object,
        admin: object,
        fail: Callable[[str, str], None],
    ) -> None:
        """A new key on a server hardened with the old one: only once it is installed there.

        The admin user's authorized_keys came from user data, which ran once, and root's login
        is closed: nothing in `pulumi up` could install the new key, so the update would be
        locked out (and the instance keeps its old key pair: key_name is ignored, see Server).
        """
        old_key, host = olds.get("privateKey"), news.get("host")
        if (
            not old_key
            or is_unknown(old_key)
            or key == old_key
            or not same_server(olds, news)  # a new server gets the new key from its user data
            or os.environ.get(KEY_INSTALLED_ENV) == "1"
        ):
            return
        user = admin if isinstance(admin, str) and not is_unknown(admin) else "<adminUser>"
        fail(
            "privateKey",
            f"the key changed for the hardened server {host}, whose admin user {user!r} only "
            "accepts the old one (user data ran once; root's login is closed), so the update "
            "would be locked out. Rotate by hand: on every server add the new public key to "
            f"{user}'s ~/.ssh/authorized_keys, e.g. `ssh-copy-id -f -i NEW_KEY.pub -o "
            f"IdentityFile=OLD_KEY {user}@{host}`; then run `{KEY_INSTALLED_ENV}=1 pulumi up`; "
            "then remove the old key from authorized_keys (and the old key pair in the console). "
            "Or replace the server so it is hardened from scratch",
        )

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        # `olds` are the last outputs (inputs included); `news` the checked new inputs.
        def changed(name: str) -> bool:
            new = news.get(name)
            if name == "privateKey" and is_unknown(new):
                # A preview without sshPrivateKey sends an unknown key: that alone is no
                # change (else every preview shows an update and --expect-no-changes fails).
                return False
            return is_unknown(new) or new != olds.get(name)

        by_instance = olds.get("instanceId") is not None and news.get("instanceId") is not None
        replaces = [n for n in (REPLACE_ON_INSTANCE if by_instance else REPLACE_ON) if changed(n)]
        if replaces:
            # An unknown host during preview: the instance is being created or replaced.
            return dynamic.DiffResult(changes=True, replaces=replaces, delete_before_replace=False)
        updates = [name for name in (*UPDATE_ON, "host") if changed(name)]
        # A refresh found the server drifted: `pulumi up` puts the settings back.
        drifted = olds.get("compliant") is False
        return dynamic.DiffResult(changes=bool(updates) or drifted, replaces=[])

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        s = _Settings.of(props)
        with tempfile.TemporaryDirectory(prefix="sshd-hardening-") as tmp:
            # First contact: insist on the key the server was given (user data), or, for a
            # host we know nothing about, record the key it presents; pinned from then on.
            host_keys = (
                HostKeyPolicy(pinned_fingerprint=s.expected_fingerprint)
                if s.expected_fingerprint
                else HostKeyPolicy(known_hosts=Path(tmp) / "known_hosts", accept_new=True)
            )
            report = engine.apply(
                s.target(s.bootstrap_user, host_keys), s.request, s.options(), _say
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
        return dynamic.CreateResult(id_=f"{s.host}:{s.port}", outs=outs)

    @staticmethod
    def _rotate(s: _Settings, pin: str) -> tuple[str, str]:
        """Right after the first apply: a fresh host key, over the channel pinned to `pin`.

        The boot key came through the user data, which anyone who may read the instance's
        attributes can see; once this returns it opens nothing.
        """
        _say(f"{s.host}: replacing the boot host key {pin} with a fresh one")
        report = engine.rotate_host_key(
            s.target(s.admin_user, HostKeyPolicy(pinned_fingerprint=pin)),
            s.request,
            s.options(min(s.wait, RUNNING_WAIT)),
            _say,
        )
        _succeeded("host key rotation", s, report, accept=(0,))
        if not (report.host_key_fingerprint and report.host_public_key):
            raise SshdHardeningError(f"host key rotation of {s.host} reported no new key")
        return report.host_key_fingerprint, report.host_public_key

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        s = _Settings.of(news)
        # The recorded key first: after the first apply the boot key (expected) is gone.
        pin = olds.get("hostKeyFingerprint") or s.expected_fingerprint
        if not pin:
            raise SshdHardeningError(
                f"no host key recorded for {s.host}:{s.port}; replace this resource "
                "(pulumi up --replace <urn>) to harden it from first contact again"
            )
        # After the first apply root is closed: the admin user is the way in. The server is
        # up, so a refused key (e.g. a rotated one not installed) fails fast.
        report = engine.apply(
            s.target(s.admin_user, HostKeyPolicy(pinned_fingerprint=str(pin))),
            s.request,
            s.options(min(s.wait, RUNNING_WAIT)),
            _say,
        )
        if report.exit_code != 0 and olds.get("privateKey") not in (None, s.private_key):
            report.error = (
                f"{report.error or 'no reason given'} (privateKey changed: is its public half "
                f"in {s.admin_user}'s authorized_keys on {s.host}?)"
            )
        _succeeded("update", s, report, accept=(0,))
        outs = _outputs(news, report, str(pin))
        outs["hostPublicKey"] = olds.get("hostPublicKey")
        outs["changed"] = report.changed
        return dynamic.UpdateResult(outs=outs)

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        s = _Settings.of(props)
        pin = props.get("hostKeyFingerprint") or s.expected_fingerprint
        if not pin:
            raise SshdHardeningError(f"no host key recorded for {s.host}:{s.port}")
        report = engine.check(
            s.target(s.admin_user, HostKeyPolicy(pinned_fingerprint=str(pin))),
            s.request,
            s.options(min(s.wait, RUNNING_WAIT)),
            _say,
        )
        _succeeded("check", s, report, accept=(0, 1))  # 1: drift, reported in the outputs
        outs = _outputs(props, report, str(pin))
        outs["hostPublicKey"] = props.get("hostPublicKey")
        outs["changed"] = props.get("changed", False)  # what the last apply did
        return dynamic.ReadResult(id_, outs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        port = props.get("port", DEFAULT_PORT)
        port = int(port) if isinstance(port, int | float) else port  # numbers arrive as floats
        _say(
            f"{props.get('host')}:{port} is no longer managed; "
            "its sshd keeps the hardened configuration (nothing on the server was changed)"
        )


def same_server(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """Whether the new inputs name the server the old state hardened (unknown: no).

    By its instance when both name one (an economical stop changes the address, not the
    server), else by its address.
    """
    key = "instanceId" if olds.get("instanceId") and news.get("instanceId") else "host"
    new = news.get(key)
    return not is_unknown(new) and new == olds.get(key)


def first_boot_hint(s: _Settings) -> str:
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


def key_or_unknown(private_key: pulumi.Output[str] | None) -> pulumi.Output[str]:
    """The key, or (a preview without ``sshPrivateKey``) a secret the engine sees as unknown.

    Unknown, not absent: the preview still shows every SshdHardening, and ``check`` accepts
    an unknown key the way it accepts the unknown address of a server not created yet.
    """
    if private_key is not None:
        return private_key
    return cast(pulumi.Output[str], pulumi.Output.secret(pulumi.UNKNOWN))


@dataclass(frozen=True)
class SshdHardeningArgs:
    """Inputs of one SshdHardening.

    ``host``: the instance's ``public_ip`` Output. ``private_key``: the OpenSSH/PEM private key
    text (made secret here in any case). ``admin_user``: the sudo user that keeps access once root
    is closed. ``profile``/``overrides``: the vocabulary of ``python -m hardening``.
    ``expected_host_key_fingerprint``: insist on this host key at first contact instead of
    recording whatever key the new server presents; ``rotate_host_key``: then replace it with a
    fresh one right after the first apply. ``wait``: seconds a booting server gets.
    """

    host: pulumi.Input[str]
    private_key: pulumi.Input[str]
    admin_user: pulumi.Input[str]
    port: pulumi.Input[int] = DEFAULT_PORT
    bootstrap_user: pulumi.Input[str] = DEFAULT_BOOTSTRAP_USER
    profile: pulumi.Input[str] = DEFAULT_PROFILE
    overrides: Mapping[str, str] = field(default_factory=dict)
    expected_host_key_fingerprint: pulumi.Input[str] | None = None
    wait: float = DEFAULT_WAIT
    # The admin account already exists on the image and is the operator's: give it our key and
    # sudo (the engine refuses an account it did not create otherwise).
    adopt_admin_user: bool = False
    rotate_host_key: bool = False
    # The ECS instance this hardens: a new address of the same instance is an update.
    instance_id: pulumi.Input[str] | None = None


class SshdHardening(dynamic.Resource, module="hardening", name="SshdHardening"):
    """The hardened sshd of one server. Type ``pulumi-python:dynamic/hardening:SshdHardening``.

    Outputs: ``host_key_fingerprint``, ``effective`` (directive -> what ``sshd -T`` shows),
    ``compliant``, ``changed`` (the last apply changed the server), ``drift`` (directives that
    are not as wanted), ``openssh`` (the server's version). ``privateKey`` stays secret.
    """

    def __init__(
        self, name: str, args: SshdHardeningArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props: dict[str, Any] = {
            "host": args.host,
            "port": args.port,
            "bootstrapUser": args.bootstrap_user,
            "adminUser": args.admin_user,
            "privateKey": pulumi.Output.secret(args.private_key),
            "profile": args.profile,
            "overrides": dict(args.overrides),
            "expectedHostKeyFingerprint": args.expected_host_key_fingerprint,
            "wait": args.wait,
            "adoptAdminUser": args.adopt_admin_user,
            "rotateHostKey": args.rotate_host_key,
            "instanceId": args.instance_id,
            **dict.fromkeys(OUTPUT_NAMES),
        }
        # The engine keeps an output secret when the input of that name was; say so anyway.
        secret = pulumi.ResourceOptions(additional_secret_outputs=["privateKey"])
        super().__init__(
            SshdHardeningProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret)
        )

    def _output(self, name: str) -> pulumi.Output[Any]:
        return cast(pulumi.Output[Any], self.__dict__[name])

    @property
    def host_key_fingerprint(self) -> pulumi.Output[str]:
        return self._output("hostKeyFingerprint")

    @property
    def host_public_key(self) -> pulumi.Output[str | None]:
        """The public line of the host key after the rotation (None without one)."""
        return self._output("hostPublicKey")

    @property
    def effective(self) -> pulumi.Output[dict[str, str]]:
        return self._output("effective")

    @property
    def compliant(self) -> pulumi.Output[bool]:
        return self._output("compliant")

    @property
    def changed(self) -> pulumi.Output[bool]:
        return self._output("changed")

    @property
    def drift(self) -> pulumi.Output[list[str]]:
        return self._output("drift")

    @property
    def openssh(self) -> pulumi.Output[str]:
        return self._output("openssh")
