"""SshdHardening's provider called directly, without a host: its check, diff, update and read
rules and the engine's failures it passes on. Its place in the graph:
test_sshd_hardening_graph.py; through Pulumi's provider server against a real sshd:
tests/pulumi/test_sshd_hardening_grpc.py.
"""

from __future__ import annotations

import functools
import socket
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pulumi.output import UNKNOWN as UNKNOWN_VALUE

from components.sshd_hardening.provider import SshdHardeningError, SshdHardeningProvider
from components.sshd_hardening.settings import (
    DEFAULT_WAIT,
    KEY_INSTALLED_ENV,
    RUNNING_WAIT,
    UNKNOWN,
)
from hardening.change.transaction import STAGE_LEASE
from hardening.model.errors import EXIT_APPLY_FAILED, EXIT_CONNECT
from hardening.ops import engine
from tests.unit.program_preview import ecdsa_pair

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pulumi_alicloud's own


KEY = ecdsa_pair()[1]


@functools.cache
def key_pair_two() -> str:
    """Another private key (a rotation)."""
    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode()
    )


INPUTS: dict[str, Any] = {
    "host": "192.0.2.10",
    "port": 22,
    "bootstrapUser": "root",
    "adminUser": "ops",
    "privateKey": KEY,
    "profile": "baseline",
    "overrides": {"MaxAuthTries": "3"},
    "wait": 300,
}
# What the state holds after a create: the inputs and the outputs.
STATE: dict[str, Any] = {
    **INPUTS,
    "hostKeyFingerprint": "SHA256:" + "B" * 43,
    "effective": {"PasswordAuthentication": "no"},
    "compliant": True,
    "changed": True,
    "drift": [],
    "openssh": "9.2p1",
}


def failures(news: dict[str, Any], olds: dict[str, Any] | None = None) -> dict[str, str]:
    result = SshdHardeningProvider().check(olds or {}, news)
    found: dict[str, str] = {}
    for f in result.failures:
        found[f.property] = f"{found[f.property]}; {f.reason}" if f.property in found else f.reason
    return found


@pytest.mark.parametrize("unknown", [UNKNOWN_VALUE, UNKNOWN], ids=["Unknown", "sentinel"])
def test_check_accepts_unknown_values_during_preview(unknown: object) -> None:
    for name in ("host", "port", "privateKey", "overrides", "adminUser", "profile"):
        assert failures({**INPUTS, name: unknown}) == {}, name
    checked = SshdHardeningProvider().check({}, {**INPUTS, "host": unknown})
    assert checked.inputs["host"] is unknown


def test_check_fills_defaults_and_takes_numbers_as_the_engine_sends_them() -> None:
    news = {"host": "192.0.2.10", "adminUser": "ops", "privateKey": KEY, "port": 22.0}
    checked = SshdHardeningProvider().check({}, news)
    assert checked.failures == []
    assert checked.inputs["port"] == 22 and isinstance(checked.inputs["port"], int)
    assert checked.inputs["bootstrapUser"] == "root"
    assert checked.inputs["profile"] == "baseline"
    assert checked.inputs["overrides"] == {}
    assert checked.inputs["wait"] == 300


def test_check_names_the_property_and_never_quotes_the_key() -> None:
    broken_key = KEY.replace("\n", "\nZZZZ", 2)
    found = failures(
        {
            **INPUTS,
            "host": "not a host",
            "port": 70000,
            "bootstrapUser": "Root User",
            "adminUser": "root",
            "profile": "paranoid",
            "overrides": {"PermitRootLogn": "no", "ListenAddress": "0.0.0.0"},
            "privateKey": broken_key,
            "expectedHostKeyFingerprint": "d4:1d:8c",
            "wait": -1,
        }
    )
    assert set(found) == {
        *("host", "port", "bootstrapUser", "adminUser", "profile", "overrides"),
        *("privateKey", "expectedHostKeyFingerprint", "wait"),
    }
    assert "PermitRootLogin" in found["overrides"]  # the engine's "did you mean"
    body = broken_key.strip().splitlines()[2]
    assert all(body not in reason for reason in found.values())
    assert failures({**INPUTS, "privateKey": ""}).keys() == {"privateKey"}


def test_check_refuses_a_new_admin_user_on_an_already_hardened_server() -> None:
    found = failures({**INPUTS, "adminUser": "admin2"}, olds=INPUTS)
    assert list(found) == ["adminUser"]
    assert "not supported" in found["adminUser"]
    # A new server (the instance was replaced) is hardened from root again: fine.
    assert failures({**INPUTS, "adminUser": "admin2", "host": "192.0.2.99"}, olds=INPUTS) == {}
    assert failures({**INPUTS, "adminUser": "admin2", "host": UNKNOWN}, olds=INPUTS) == {}


def test_check_refuses_a_new_key_on_an_already_hardened_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(KEY_INSTALLED_ENV, raising=False)
    rotated = key_pair_two()
    found = failures({**INPUTS, "privateKey": rotated}, olds=INPUTS)
    assert list(found) == ["privateKey"]
    reason = found["privateKey"]
    # Says what to do by hand, for this server and admin user, and never quotes a key.
    assert "authorized_keys" in reason and "ops@192.0.2.10" in reason
    assert f"{KEY_INSTALLED_ENV}=1 pulumi up" in reason
    assert all(line not in reason for line in (KEY + rotated).strip().splitlines()[1:-1])
    # The same key, a preview without it, a new server or an unknown host: no refusal.
    assert failures(dict(INPUTS), olds=INPUTS) == {}
    assert failures({**INPUTS, "privateKey": UNKNOWN}, olds=INPUTS) == {}
    assert failures({**INPUTS, "privateKey": rotated, "host": "192.0.2.99"}, olds=INPUTS) == {}
    assert failures({**INPUTS, "privateKey": rotated, "host": UNKNOWN}, olds=INPUTS) == {}
    assert failures({**INPUTS, "privateKey": rotated}) == {}  # first create
    # Once the operator says the new key is installed on the servers, the update may run.
    monkeypatch.setenv(KEY_INSTALLED_ENV, "1")
    assert failures({**INPUTS, "privateKey": rotated}, olds=INPUTS) == {}


def _recording_engine(
    monkeypatch: pytest.MonkeyPatch, exit_code: int = 0, error: str = "every key was refused"
) -> list[tuple[str, float]]:
    """Replace the engine's apply/check; record (action, wait) of each call."""
    calls: list[tuple[str, float]] = []

    def fake(action: str) -> Any:
        def run(target: Any, request: Any, options: engine.Options, progress: Any) -> Any:
            calls.append((action, options.wait))
            return engine.Report(
                host=target.host,
                port=target.port,
                action=action,
                compliant=exit_code == 0,
                exit_code=exit_code,
                error=None if exit_code == 0 else error,
            )

        return run

    # The provider calls engine.apply/check through the module: patch them there.
    monkeypatch.setattr(engine, "apply", fake("apply"))
    monkeypatch.setattr(engine, "check", fake("check"))
    return calls


def test_update_and_read_wait_less_for_a_server_that_is_up_but_outwait_a_dead_applys_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _recording_engine(monkeypatch)
    provider = SshdHardeningProvider()
    provider.update("id", STATE, {**INPUTS, "wait": 300})
    provider.read("id", {**STATE, "wait": 300})
    provider.update("id", STATE, {**INPUTS, "wait": 5})
    assert calls == [("apply", RUNNING_WAIT), ("check", RUNNING_WAIT), ("apply", 5)]
    assert RUNNING_WAIT < DEFAULT_WAIT
    # A killed `pulumi up` holds the host lock until its lease or confirm timeout runs out
    # (tests/pulumi/test_pulumi_engine.py kills one): the next update must wait longer than that.
    assert max(STAGE_LEASE, engine.Options().confirm_timeout) < RUNNING_WAIT


def test_an_update_with_a_new_key_that_is_refused_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _recording_engine(monkeypatch, exit_code=3)
    rotated = key_pair_two()
    with pytest.raises(SshdHardeningError) as failed:
        SshdHardeningProvider().update("id", STATE, {**INPUTS, "privateKey": rotated})
    assert "privateKey changed" in str(failed.value)
    assert "ops's authorized_keys on 192.0.2.10" in str(failed.value)
    with pytest.raises(SshdHardeningError) as same:
        SshdHardeningProvider().update("id", STATE, dict(INPUTS))
    assert "privateKey changed" not in str(same.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, "none"),
        ({"profile": "minimal"}, "update"),
        ({"overrides": {"MaxAuthTries": "2"}}, "update"),
        ({"overrides": UNKNOWN}, "update"),
        ({"placement": "block"}, "update"),  # the engine moves the values to the block
        ({"placement": "dropin"}, "none"),  # what a state without the input was hardened with
        ({"placement": UNKNOWN}, "update"),
        ({"adminUser": "admin2"}, "update"),
        ({"privateKey": "rotated"}, "update"),
        # A preview without sshPrivateKey: the key is unknown, which alone is no change.
        ({"privateKey": UNKNOWN}, "none"),
        ({"privateKey": UNKNOWN_VALUE}, "none"),
        ({"privateKey": UNKNOWN, "profile": "minimal"}, "update"),
        ({"expectedHostKeyFingerprint": "SHA256:" + "C" * 43}, "update"),
        ({"wait": 60}, "none"),  # only how long later operations wait
        ({"bootstrapUser": "ecs-user"}, "none"),  # only used at first contact
        ({"host": "192.0.2.11"}, "replace host"),
        ({"host": UNKNOWN}, "replace host"),  # preview: the instance is being (re)created
        ({"host": UNKNOWN_VALUE}, "replace host"),
        # Without managePort a new port is another sshd, as it always was.
        ({"port": 2222}, "replace port"),
        # With it (the program's servers), the same server moving its sshd
        # (test_a_port_change_moves_...).
        ({"port": 2222, "managePort": True}, "update"),
        ({"port": UNKNOWN, "managePort": True}, "update"),
        ({"port": 2222, "managePort": True, "host": "192.0.2.11"}, "replace host"),
        ({"managePort": True}, "none"),  # only says how a later port change is done
    ],
)
def test_diff(change: dict[str, Any], expected: str) -> None:
    result = SshdHardeningProvider().diff("id", STATE, {**INPUTS, **change})
    replaces = result.replaces or []
    got = f"replace {' '.join(replaces)}" if replaces else ("update" if result.changes else "none")
    assert got == expected
    assert result.changes is (expected != "none")


def test_diff_after_a_refresh_that_found_drift_asks_for_an_update() -> None:
    drifted = {**STATE, "compliant": False, "drift": ["PasswordAuthentication"]}
    result = SshdHardeningProvider().diff("id", drifted, dict(INPUTS))
    assert result.changes is True and not result.replaces


def test_engine_failures_fail_the_operation_with_the_engines_message() -> None:
    # A port that refuses connections: bound, never listening.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        props = {**INPUTS, "host": "127.0.0.1", "port": port, "wait": 0}
        with pytest.raises(SshdHardeningError) as failed:
            SshdHardeningProvider().create(props)
    message = str(failed.value)
    assert message.startswith(f"sshd hardening create of 127.0.0.1:{port} failed (engine exit 3)")
    assert "TCP connect failed" in message
    assert all(line not in message for line in KEY.strip().splitlines()[1:-1])


def test_check_refuses_overrides_that_would_refuse_the_login_key() -> None:
    """The stack's key (see key_pair) must stay acceptable to the hardened server."""
    from hardening.ssh.keys import load_private_key

    pkey = load_private_key(text=KEY, setting="privateKey")
    other = "ssh-ed25519" if pkey.get_name() != "ssh-ed25519" else "ecdsa-sha2-nistp256"
    found = failures({**INPUTS, "overrides": {"PubkeyAcceptedAlgorithms": other}})
    assert list(found) == ["overrides"], found
    assert "the key hardened-ecs logs in with" in found["overrides"]


def test_check_takes_adopt_admin_user_as_a_boolean_only() -> None:
    assert failures({**INPUTS, "adoptAdminUser": True}) == {}
    assert list(failures({**INPUTS, "adoptAdminUser": "yes"})) == ["adoptAdminUser"]


def test_what_the_host_said_reaches_pulumi_with_its_control_characters_escaped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _recording_engine(monkeypatch, exit_code=4, error="sshd -T: \x1b]0;pwned\x07\x1b[2J")
    with pytest.raises(SshdHardeningError) as failed:
        SshdHardeningProvider().update("id", STATE, dict(INPUTS))
    assert "\x1b" not in str(failed.value) and "\x07" not in str(failed.value)
    assert "\\x1b]0;pwned\\x07" in str(failed.value)


def test_check_fills_the_default_placement_and_refuses_any_other_word() -> None:
    checked = SshdHardeningProvider().check({}, dict(INPUTS))
    assert checked.failures == [] and checked.inputs["placement"] == "dropin"
    assert failures({**INPUTS, "placement": "block"}) == {}
    assert failures({**INPUTS, "placement": UNKNOWN}) == {}  # preview: not known yet
    found = failures({**INPUTS, "placement": "top"})
    assert list(found) == ["placement"]
    assert found["placement"] == "must be one of dropin, block, got 'top'"


def _recording_requests(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Replace the engine's apply/check; record (action, request) of each call."""
    calls: list[tuple[str, Any]] = []

    def fake(action: str) -> Any:
        def run(target: Any, request: Any, options: engine.Options, progress: Any) -> Any:
            calls.append((action, request))
            return engine.Report(host=target.host, port=target.port, action=action, compliant=True)

        return run

    monkeypatch.setattr(engine, "apply", fake("apply"))
    monkeypatch.setattr(engine, "check", fake("check"))
    return calls


def _engine_calls(
    monkeypatch: pytest.MonkeyPatch, exit_codes: list[int]
) -> list[tuple[str, int, dict[str, str]]]:
    """Replace the engine's apply/check; each call answers the next exit code and is recorded
    as (action, the port it connected to, the request's overrides)."""
    calls: list[tuple[str, int, dict[str, str]]] = []

    def fake(action: str) -> Any:
        def run(target: Any, request: Any, options: engine.Options, progress: Any) -> Any:
            calls.append((action, target.port, dict(request.overrides)))
            code = exit_codes.pop(0)
            return engine.Report(
                host=target.host,
                port=target.port,
                action=action,
                compliant=code == 0,
                exit_code=code,
                rolled_back=code == EXIT_APPLY_FAILED,
                error=None if code == 0 else "the fresh login on the new port was refused",
            )

        return run

    monkeypatch.setattr(engine, "apply", fake("apply"))
    monkeypatch.setattr(engine, "check", fake("check"))
    return calls


# The program's servers own their port (HardenedServer: managePort).
MANAGED = {**INPUTS, "managePort": True}
MANAGED_STATE = {**STATE, "managePort": True}


def test_a_port_change_moves_sshd_connected_on_the_old_port_and_records_the_new_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _engine_calls(monkeypatch, [0])
    result = SshdHardeningProvider().update("id", MANAGED_STATE, {**MANAGED, "port": 2222})
    # Connected where the state says sshd listens, asked for the new port.
    assert calls == [("apply", 22, {"MaxAuthTries": "3", "Port": "2222"})]
    # The next up and refresh connect there.
    assert result.outs is not None and result.outs["port"] == 2222


def test_after_a_move_refresh_and_up_connect_on_the_new_port_and_keep_asking_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _engine_calls(monkeypatch, [0, 0])
    moved = {**MANAGED_STATE, "port": 2222.0}  # numbers come back from the state as floats
    SshdHardeningProvider().read("id", moved)
    SshdHardeningProvider().update("id", moved, {**MANAGED, "port": 2222, "profile": "minimal"})
    wanted = {"MaxAuthTries": "3", "Port": "2222"}
    assert calls == [("check", 2222, wanted), ("apply", 2222, wanted)]


def test_back_to_22_asks_for_port_22_and_on_22_the_request_is_what_it_always_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _engine_calls(monkeypatch, [0, 0, 0])
    provider = SshdHardeningProvider()
    provider.update("id", {**MANAGED_STATE, "port": 2222}, dict(MANAGED))
    provider.update("id", MANAGED_STATE, {**MANAGED, "profile": "minimal"})
    provider.read("id", MANAGED_STATE)
    assert calls == [
        ("apply", 2222, {"MaxAuthTries": "3", "Port": "22"}),
        ("apply", 22, {"MaxAuthTries": "3"}),
        ("check", 22, {"MaxAuthTries": "3"}),
    ]


def test_a_failed_move_fails_the_update_so_the_state_keeps_the_old_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The engine could not prove a login on 2222: the host went back to 22 by itself (exit 4).
    calls = _engine_calls(monkeypatch, [EXIT_APPLY_FAILED])
    with pytest.raises(SshdHardeningError) as failed:
        SshdHardeningProvider().update("id", MANAGED_STATE, {**MANAGED, "port": 2222})
    # An update that raises leaves Pulumi's state as it was: port 22, where the host is.
    message = str(failed.value)
    assert message.startswith("sshd hardening update of 192.0.2.10:22 failed (engine exit 4)")
    assert "[the host was rolled back to its previous configuration]" in message
    assert calls == [("apply", 22, {"MaxAuthTries": "3", "Port": "2222"})]  # no second try


def test_a_move_cut_short_after_it_confirmed_is_finished_from_the_new_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The last `pulumi up` died after sshd confirmed 2222 but before the state said so. The
    # one request connects on 22 and names Port 2222: the engine tries 2222 when nothing
    # answers on 22 (Session.open_first; tests/hosts/test_port_move_chroot.py re-runs a move).
    calls = _engine_calls(monkeypatch, [0])
    result = SshdHardeningProvider().update("id", MANAGED_STATE, {**MANAGED, "port": 2222})
    assert calls == [("apply", 22, {"MaxAuthTries": "3", "Port": "2222"})]
    assert result.outs is not None and result.outs["port"] == 2222


def test_a_moving_server_that_answers_on_neither_port_is_tried_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _engine_calls(monkeypatch, [EXIT_CONNECT])
    with pytest.raises(SshdHardeningError):
        SshdHardeningProvider().update("id", MANAGED_STATE, {**MANAGED, "port": 2222})
    assert [port for _, port, _ in calls] == [22]  # the engine already tried 2222


def test_an_unreachable_server_that_is_not_moving_is_tried_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _engine_calls(monkeypatch, [EXIT_CONNECT])
    with pytest.raises(SshdHardeningError):
        SshdHardeningProvider().update("id", MANAGED_STATE, {**MANAGED, "profile": "minimal"})
    assert [port for _, port, _ in calls] == [22]


def test_a_new_server_on_another_port_is_created_there_asking_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _engine_calls(monkeypatch, [0])
    result = SshdHardeningProvider().create({**MANAGED, "port": 2222})
    assert calls == [("apply", 2222, {"MaxAuthTries": "3", "Port": "2222"})]
    assert result.id == "192.0.2.10:2222"
    assert result.outs is not None and result.outs["port"] == 2222


@pytest.mark.parametrize("name", ["Port", "port"])
def test_check_refuses_the_port_in_overrides(name: str) -> None:
    found = failures({**INPUTS, "overrides": {name: "2222"}})
    assert found == {"overrides": "Port goes in `port`, which also says where to connect"}


def test_without_manage_port_the_request_never_names_the_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A host whose sshd listens on 2222 by its own choice (e.g. started with -p 2222): the
    # resource hardens it there and leaves the port to the host, as it always did.
    calls = _engine_calls(monkeypatch, [0, 0])
    SshdHardeningProvider().create({**INPUTS, "port": 2222})
    SshdHardeningProvider().read("id", {**STATE, "port": 2222})
    assert calls == [("apply", 2222, {"MaxAuthTries": "3"}), ("check", 2222, {"MaxAuthTries": "3"})]


def test_once_the_port_was_managed_every_later_request_keeps_it_also_on_22(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Booted on 2222 (its boot drop-in says Port 2222), then moved to 22: a later request
    # without Port would have the engine put that Port 2222 line back, a move to a closed port.
    calls = _engine_calls(monkeypatch, [0, 0, 0, 0, 0])
    provider = SshdHardeningProvider()
    created = provider.create({**MANAGED, "port": 2222})
    assert created.outs is not None and created.outs["portManaged"] is True
    # (The fake engine reports no host key: the state's recorded one stands in.)
    pin = {"hostKeyFingerprint": STATE["hostKeyFingerprint"]}
    moved = provider.update("id", {**created.outs, **pin}, dict(MANAGED))
    assert moved.outs is not None and moved.outs["portManaged"] is True
    later = provider.update("id", {**moved.outs, **pin}, {**MANAGED, "profile": "minimal"})
    assert later.outs is not None
    read = provider.read("id", {**later.outs, **pin})
    assert read.outs is not None and read.outs["portManaged"] is True
    assert [(port, o.get("Port")) for _, port, o in calls[:4]] == [
        (2222, "2222"),
        (2222, "22"),
        (22, "22"),
        (22, "22"),
    ]
    # A server that never left 22 is asked for nothing about the port, as before.
    never = provider.create(dict(MANAGED))
    assert never.outs is not None and never.outs["portManaged"] is False


def test_placement_reaches_the_engines_request_in_create_update_and_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _recording_requests(monkeypatch)
    provider = SshdHardeningProvider()
    block = {**INPUTS, "placement": "block"}
    provider.create(block)
    outs = provider.update("id", STATE, block).outs
    assert outs is not None
    provider.read("id", outs)
    assert [(action, r.placement) for action, r in calls] == [
        ("apply", "block"),
        ("apply", "block"),
        ("check", "block"),
    ]
    assert outs["placement"] == "block"  # kept for `read`, which gets only the outputs


def test_a_state_recorded_before_placement_existed_loads_as_dropin_without_a_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert "placement" not in STATE  # as recorded before the input existed
    checked = SshdHardeningProvider().check(STATE, dict(INPUTS)).inputs
    assert SshdHardeningProvider().diff("id", STATE, checked).changes is False
    moved = SshdHardeningProvider().diff("id", STATE, {**checked, "placement": "block"})
    assert moved.changes is True and not moved.replaces  # moved in place, not rebuilt
    calls = _recording_requests(monkeypatch)
    SshdHardeningProvider().read("id", STATE)  # `pulumi refresh` of such a state
    assert [(action, r.placement) for action, r in calls] == [("check", "dropin")]
