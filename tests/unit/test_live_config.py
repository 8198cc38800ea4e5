"""An edit of sshd's files the running sshd never loaded, found before anything changes (issue
21 item 5): the listener's sockets (facts.sh `listening`) against `sshd -T` of the files, over
the recorded and constructed facts of nine distributions."""

from __future__ import annotations

import dataclasses

import pytest

from hardening.host.facts import HostFacts
from hardening.host.listening import parse_listening
from hardening.planning.live_config import files_endpoints, unloaded_edit
from tests.facts import SLUGS, load_facts

BOTH_22 = frozenset({("0.0.0.0", 22), ("::", 22)})
CONSTRUCTED = ("alinux-3", "centos-7", "rocky-9", "ubuntu-20.04", "ubuntu-22.04")
RECORDED = ("debian-11", "debian-12", "debian-13")


def edited(facts: HostFacts, listenaddress: str, **live: object) -> HostFacts:
    """`facts` whose files now make `sshd -T` print `listenaddress`, not yet loaded."""
    effective = dict(facts.effective, listenaddress=listenaddress)
    return dataclasses.replace(facts, effective=effective, **live)  # type: ignore[arg-type]


def test_the_listener_sockets_decode_from_proc_net_tcp() -> None:
    text = (
        "pid 812\ntcp 0100007F:08AE\ntcp 00000000:0016\n"
        "tcp6 00000000000000000000000001000000:0016\ntcp6 B80D0120000000000000000001000000:0016"
    )
    assert parse_listening(text) == frozenset(
        {("127.0.0.1", 2222), ("0.0.0.0", 22), ("::1", 22), ("2001:db8::1", 22)}
    )
    # Unknown is never "listens nowhere": no pid line (no listener, not root), or garbage.
    assert parse_listening("") is None
    assert parse_listening("tcp 00000000:0016") is None
    assert parse_listening("pid 9\ntcp zz:0016") is None
    assert parse_listening("pid 9") == frozenset()


@pytest.mark.parametrize("slug", SLUGS)
def test_every_image_as_shipped_is_what_runs(slug: str) -> None:
    facts = load_facts(slug)
    if slug in RECORDED:  # recorded in a chroot with no sshd running
        assert facts.listening is None
    elif slug == "ubuntu-24.04":  # ssh.socket's one dual-stack socket, passed to sshd
        assert facts.listening == frozenset({("::", 22)})
    else:
        assert facts.listening == BOTH_22
    assert files_endpoints(facts.effective) == BOTH_22
    assert unloaded_edit(facts) is None


@pytest.mark.parametrize("slug", CONSTRUCTED)
def test_a_port_edited_without_a_reload_is_refused_naming_it_and_the_fix(slug: str) -> None:
    facts = edited(load_facts(slug), "[::]:2222 0.0.0.0:2222")
    message = unloaded_edit(facts)
    assert message is not None
    assert "it listens on 0.0.0.0:22, [::]:22, its files say 0.0.0.0:2222, [::]:2222" in message
    unit = "ssh" if slug.startswith("ubuntu") else "sshd"
    assert f"Reload sshd yourself (systemctl reload {unit})" in message
    assert "or revert the edit" in message and "(nothing changed)" in message


def test_an_include_lost_without_a_reload_is_refused() -> None:
    # The case seen: Port and ListenAddress came from a drop-in, and sshd_config lost its
    # Include; the files now say the compiled-in wildcard port 22.
    live = frozenset({("127.0.0.1", 2222)})
    facts = edited(load_facts("debian-12"), "[::]:22 0.0.0.0:22", listening=live)
    message = unloaded_edit(facts)
    assert message is not None
    assert "it listens on 127.0.0.1:2222, its files say 0.0.0.0:22, [::]:22" in message


def test_a_narrowed_address_on_the_same_port_is_refused() -> None:
    facts = edited(load_facts("rocky-9"), "10.0.0.5:22")
    assert unloaded_edit(facts) is not None


def test_an_address_sshd_could_not_bind_is_no_edit() -> None:
    # A host without IPv6: the files say [::]:22 too, sshd binds only 0.0.0.0:22, and so would
    # a reload.
    facts = dataclasses.replace(load_facts("rocky-9"), listening=frozenset({("0.0.0.0", 22)}))
    assert unloaded_edit(facts) is None


def test_what_cannot_be_compared_is_not_refused() -> None:
    moved = "[::]:2222 0.0.0.0:2222"
    # Socket activation: systemd holds the port, not sshd_config.
    assert unloaded_edit(edited(load_facts("ubuntu-24.04"), moved)) is None
    # The listener's own command line sets the port or the file it reads.
    for line in (
        "/usr/sbin/sshd -D -p 2222",
        "/usr/sbin/sshd -D -f /etc/ssh/other",
        "sshd -oPort=2",
    ):
        assert unloaded_edit(edited(load_facts("rocky-9"), moved, listener_cmdline=line)) is None
    # ...but RHEL 8's crypto options on it are no reason to look away.
    assert unloaded_edit(edited(load_facts("alinux-3"), moved)) is not None
    # A listener we could not read, or an address that is a name.
    assert unloaded_edit(edited(load_facts("rocky-9"), moved, listening=None)) is None
    assert unloaded_edit(edited(load_facts("rocky-9"), "ssh.example:22")) is None
    # rdomain after an address is not an address.
    assert files_endpoints({"listenaddress": "0.0.0.0:22 rdomain blue [::]:22"}) == BOTH_22
