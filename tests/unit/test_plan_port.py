"""Port=N in the plan: ours written where it wins, every other Port line set aside (and put
back once Port is no longer managed), ListenAddress lines that pin a port refused."""

from __future__ import annotations

import dataclasses

import pytest

from hardening.host.facts import HostFacts, Service
from hardening.host.paths import DROPIN_DIR, MAIN_CONFIG, staged_path
from hardening.model.profiles import Request
from hardening.planning import port, socket_port, sshd_config
from hardening.planning.plan import DROPIN_PATH, FileChange
from tests.facts import SLUGS, WITH_INCLUDE, load_facts, plan_for

MOVE = Request(overrides={"Port": "2222"})


def _files(plan_files: list[FileChange]) -> dict[str, str | None]:
    return {f.path: f.content for f in plan_files}


def _ours(facts: HostFacts, files: dict[str, str | None]) -> str:
    """The text that carries our settings: the drop-in, or the main file's block."""
    text = files.get(DROPIN_PATH) or files.get(MAIN_CONFIG)
    assert text is not None
    return text


@pytest.mark.parametrize("slug", SLUGS)
def test_port_is_written_with_ours_and_the_hosts_port_line_set_aside(slug: str) -> None:
    facts = load_facts(slug)
    main = "Port 22\n" + facts.main_config + "port=2200\n"
    facts = dataclasses.replace(facts, main_config=main)
    if facts.service.socket_activated:
        facts = dataclasses.replace(
            facts, service=Service("systemd", {"ssh.service": ("enabled", "active")})
        )
    files = _files(plan_for(facts, MOVE).files)
    assert "Port 2222\n" in _ours(facts, files)
    new_main = files[MAIN_CONFIG]
    assert new_main is not None
    live = [ln for ln in sshd_config.parse_lines(sshd_config.strip_block(new_main))]
    assert "port" not in {ln.keyword for ln in live}
    assert f"{port.MOVED}Port 22\n" in new_main and f"{port.MOVED}port=2200\n" in new_main


@pytest.mark.parametrize("slug", WITH_INCLUDE)
def test_another_dropins_port_is_set_aside_and_validated_from_its_stage(slug: str) -> None:
    facts = load_facts(slug)
    facts = dataclasses.replace(facts, dropins={**facts.dropins, "10-port.conf": "Port 2200\n"})
    if facts.service.socket_activated:
        facts = dataclasses.replace(
            facts, service=Service("systemd", {"ssh.service": ("enabled", "active")})
        )
    plan = plan_for(facts, MOVE)
    files = _files(plan.files)
    path = f"{DROPIN_DIR}/10-port.conf"
    assert files[path] == f"{port.MOVED}Port 2200\n"
    assert f"Include {staged_path(path)}\n" in plan.validation_main
    assert f"Include {path}\n" not in plan.validation_main


def test_an_inplace_plan_reads_a_rewritten_dropin_from_its_stage_too() -> None:
    facts = load_facts(WITH_INCLUDE[0])
    # MaxAuthTries before the Include forces the block into the main file.
    main = "MaxAuthTries 6\n" + facts.main_config
    facts = dataclasses.replace(facts, main_config=main, dropins={"10-port.conf": "Port 2200\n"})
    facts = dataclasses.replace(
        facts, service=Service("systemd", {"ssh.service": ("enabled", "active")})
    )
    plan = plan_for(facts, MOVE)
    assert plan.mode == "inplace"
    path = f"{DROPIN_DIR}/10-port.conf"
    assert f"Include {staged_path(path)}\n" in plan.validation_main
    assert f"Include {DROPIN_PATH}\n" not in plan.validation_main


@pytest.mark.parametrize("slug", SLUGS)
def test_without_port_managed_the_lines_we_set_aside_come_back(slug: str) -> None:
    facts = load_facts(slug)
    main = f"{port.MOVED}Port 22\n" + facts.main_config
    facts = dataclasses.replace(facts, main_config=main)
    new_main = _files(plan_for(facts).files).get(MAIN_CONFIG)
    assert new_main is not None
    assert "\nPort 22\n" in "\n" + sshd_config.strip_block(new_main)
    assert port.MOVED not in new_main


@pytest.mark.parametrize("slug", SLUGS)
def test_a_plan_without_port_leaves_the_hosts_lines_as_they_are(slug: str) -> None:
    facts = load_facts(slug)
    main = "Port 22\n" + facts.main_config
    facts = dataclasses.replace(facts, main_config=main)
    new_main = _files(plan_for(facts).files).get(MAIN_CONFIG)
    assert new_main is None or sshd_config.strip_block(new_main) == main


@pytest.mark.parametrize(
    ("line", "pinned"),
    [
        ("ListenAddress 0.0.0.0:22", 22),
        ("ListenAddress [::]:22", 22),
        ("ListenAddress host.example:22 rdomain r1", 22),
        ("ListenAddress 0.0.0.0", None),
        ("ListenAddress ::", None),
        ("ListenAddress [::1]", None),
        ("ListenAddress 0.0.0.0:2222", 2222),
    ],
)
def test_listen_port(line: str, pinned: int | None) -> None:
    assert port.listen_port(line.split(None, 1)[1]) == pinned


def test_a_listenaddress_pinning_another_port_is_refused_naming_the_line() -> None:
    facts = load_facts(WITH_INCLUDE[0])
    main = facts.main_config + "ListenAddress 0.0.0.0:22\n"
    facts = dataclasses.replace(facts, main_config=main)
    number = len(main.splitlines())
    with pytest.raises(port.FixedListen) as exc:
        plan_for(facts, MOVE)
    assert f"{MAIN_CONFIG} line {number}: 'ListenAddress 0.0.0.0:22'" in str(exc.value)
    assert "remove the port from that ListenAddress" in str(exc.value)


def test_a_listenaddress_in_a_dropin_is_refused_and_one_on_the_wanted_port_is_not() -> None:
    facts = load_facts(WITH_INCLUDE[0])
    facts = dataclasses.replace(
        facts, service=Service("systemd", {"ssh.service": ("enabled", "active")})
    )
    pinned = dataclasses.replace(facts, dropins={"20-l.conf": "ListenAddress [::1]:22\n"})
    with pytest.raises(port.FixedListen, match=r"sshd_config.d/20-l.conf line 1"):
        plan_for(pinned, MOVE)
    same = dataclasses.replace(facts, dropins={"20-l.conf": "ListenAddress 127.0.0.1:2222\n"})
    assert plan_for(same, MOVE).files
    bare = dataclasses.replace(facts, dropins={"20-l.conf": "ListenAddress 127.0.0.1\n"})
    assert plan_for(bare, MOVE).files


SOCKET_DROPIN = "/etc/systemd/system/ssh.socket.d/zz-hardened-ecs-port.conf"
MOVE_SOCKET = (
    "systemctl daemon-reload && systemctl stop ssh.service"
    " && systemctl reset-failed ssh.service ssh.socket && systemctl restart ssh.socket"
)


def test_socket_activation_moves_the_port_with_a_socket_dropin_and_restarts_the_socket() -> None:
    facts = load_facts("ubuntu-24.04")
    assert facts.service.socket_activated and facts.socket_port == {}
    plan = plan_for(facts, MOVE)
    files = _files(plan.files)
    dropin = files[SOCKET_DROPIN]
    assert dropin == socket_port.dropin_text("2222")
    assert "[Socket]\nListenStream=\nListenStream=2222\nBindIPv6Only=both\n" in dropin
    assert "Port 2222\n" in _ours(facts, files)  # sshd -T and Ubuntu's generator agree
    # ssh.service runs beside the socket there: it starts again once the socket moved.
    move = MOVE_SOCKET + " && systemctl start ssh.service"
    assert plan.service.reload == move and plan.service.restart == move


def test_a_socket_whose_service_does_not_run_is_not_started() -> None:
    facts = load_facts("ubuntu-24.04")
    units = {**facts.service.units, "ssh.service": ("disabled", "inactive")}
    facts = dataclasses.replace(facts, service=dataclasses.replace(facts.service, units=units))
    plan = plan_for(facts, MOVE)
    assert plan.service.reload == MOVE_SOCKET


def test_the_socket_dropin_in_place_changes_nothing_and_goes_when_port_is_not_managed() -> None:
    facts = load_facts("ubuntu-24.04")
    moved = dataclasses.replace(facts, socket_port={"ssh": socket_port.dropin_text("2222")})
    assert SOCKET_DROPIN not in _files(plan_for(moved, MOVE).files)
    assert "daemon-reload" not in plan_for(moved, MOVE).service.reload
    unmanaged = plan_for(moved)
    assert _files(unmanaged.files)[SOCKET_DROPIN] is None
    assert unmanaged.service.reload.startswith(MOVE_SOCKET)
    back = dataclasses.replace(moved, socket_port={"ssh": socket_port.dropin_text("2200")})
    assert _files(plan_for(back, MOVE).files)[SOCKET_DROPIN] == socket_port.dropin_text("2222")


def test_port_already_in_place_is_compliant_and_changes_no_file() -> None:
    facts = load_facts(WITH_INCLUDE[0])
    facts = dataclasses.replace(
        facts, service=Service("systemd", {"ssh.service": ("enabled", "active")})
    )
    first = plan_for(facts, MOVE)
    files = _files(first.files)
    dropins = dict(facts.dropins)
    dropins[sshd_config.DROPIN_NAME] = files[DROPIN_PATH] or ""
    after = dataclasses.replace(
        facts,
        main_config=files.get(MAIN_CONFIG) or facts.main_config,
        dropins=dropins,
        effective={**facts.effective, "port": "2222"},
    )
    again = plan_for(after, MOVE)
    assert again.files == []
    assert "Port" not in {s.directive for s in again.drift}
    # sshd -T prints one line per port: two of them are drift, not compliance.
    two_ports = dataclasses.replace(after, effective={**after.effective, "port": "22 2222"})
    assert "Port" in {s.directive for s in plan_for(two_ports, MOVE).drift}
