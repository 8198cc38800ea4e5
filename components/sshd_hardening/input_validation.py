"""The provider's input validation (Pulumi's ``Check``): each property's rule, failures by property.

No connection is opened: this runs in every preview, also without the private key.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import pulumi.dynamic as dynamic

from components.sshd_hardening.settings import (
    DEFAULT_BOOTSTRAP_USER,
    DEFAULT_PORT,
    DEFAULT_WAIT,
    KEY_INSTALLED_ENV,
    MAX_WAIT,
    PORT_DIRECTIVE,
    is_unknown,
    same_server,
)
from hardening.model import validation
from hardening.model.errors import UsageError
from hardening.model.profiles import DEFAULT_PLACEMENT, DEFAULT_PROFILE, PLACEMENTS, Request
from hardening.model.values import directive_text
from hardening.ops import api

Fail = Callable[[str, str], None]

# The property a validation Problem of the request is about (every other key: an override).
_PROPERTY_OF = {"profile": "profile", "admin_user": "adminUser"}


def validate_inputs(olds: Mapping[str, Any], news: Mapping[str, Any]) -> dynamic.CheckResult:
    """The new inputs with their defaults filled in, and a failure per broken rule."""
    inputs = dict(news)
    inputs.setdefault("port", DEFAULT_PORT)
    inputs.setdefault("bootstrapUser", DEFAULT_BOOTSTRAP_USER)
    inputs.setdefault("profile", DEFAULT_PROFILE)
    inputs.setdefault("overrides", {})
    inputs.setdefault("placement", DEFAULT_PLACEMENT)
    inputs.setdefault("wait", DEFAULT_WAIT)
    failures: list[dynamic.CheckFailure] = []

    def fail(prop: str, reason: str) -> None:
        failures.append(dynamic.CheckFailure(prop, reason))

    host = inputs.get("host")
    if not is_unknown(host) and (
        not isinstance(host, str) or not validation.HOST_OR_BRACKETED.fullmatch(host)
    ):
        fail("host", "must be the server's address (the instance's publicIp)")

    port = inputs["port"]
    if not is_unknown(port):
        if isinstance(port, float) and port.is_integer():
            port = inputs["port"] = int(port)
        low, high = validation.PORTS
        if not isinstance(port, int) or isinstance(port, bool) or not low <= port <= high:
            fail("port", f"must be a TCP port number, got {port!r}")

    boot = inputs["bootstrapUser"]
    if not is_unknown(boot) and (not isinstance(boot, str) or not validation.LOGIN.fullmatch(boot)):
        fail("bootstrapUser", f"{boot!r} is not a login name (root on a fresh image)")

    overrides = inputs["overrides"]
    profile, admin = inputs["profile"], inputs.get("adminUser")
    checked: validation.CheckedRequest | None = None
    if not is_unknown(overrides) and not isinstance(overrides, Mapping):
        fail("overrides", "must be a map of sshd directive to value")
    elif admin is None:
        fail("adminUser", "is required: the sudo user that keeps access once root is closed")
    elif not any(is_unknown(v) for v in (profile, admin, overrides)):
        texts = {str(k): directive_text(v) for k, v in overrides.items()}
        if any(name.strip().lower() == PORT_DIRECTIVE.lower() for name in texts):
            fail("overrides", f"{PORT_DIRECTIVE} goes in `port`, which also says where to connect")
            texts = {k: v for k, v in texts.items() if k.strip().lower() != "port"}
        checked = validation.validate_request(Request(str(profile), texts, str(admin)))
        for problem in checked.problems:
            fail(_PROPERTY_OF.get(problem.key, "overrides"), problem.message)

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
            login_key = api.load_key(api.KeySource(text=str(key), setting="privateKey"))
        except UsageError as exc:  # says what is wrong, never quotes the key
            fail("privateKey", str(exc))
        else:
            _refuse_uninstalled_key_rotation(olds, inputs, key, admin, fail)
            if isinstance(overrides, Mapping) and not is_unknown(overrides):
                # Settings that would refuse the very key the hardening logs in with (the
                # values as the request check normalised them, when it could run).
                values = (
                    checked.normalized
                    if checked is not None
                    else {str(k): directive_text(v) for k, v in overrides.items()}
                )
                for problem in login_key.problems(values):
                    fail("overrides", problem.message)

    placement = inputs["placement"]
    if not is_unknown(placement) and placement not in PLACEMENTS:
        fail("placement", f"must be one of {', '.join(PLACEMENTS)}, got {placement!r}")

    expected = inputs.get("expectedHostKeyFingerprint")
    if (
        expected is not None
        and not is_unknown(expected)
        and (not isinstance(expected, str) or not validation.FINGERPRINT.fullmatch(expected))
    ):
        fail("expectedHostKeyFingerprint", "must look like SHA256:<43 base64 characters>")

    for flag in ("adoptAdminUser", "rotateHostKey", "managePort"):
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


def _refuse_uninstalled_key_rotation(
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    key: object,
    admin: object,
    fail: Fail,
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
