"""parse_facts over recorded (Debian 11/12/13) and constructed facts of nine distributions."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re

import pytest

from hardening.host.facts import FactsError, HostFacts, Service, facts_script, parse_facts
from hardening.planning.plan import service_commands
from tests.facts import EXPECTED, SLUGS, WITH_INCLUDE, WITHOUT_INCLUDE, facts_text, load_facts
from tests.facts.assemble import DISTROS, Distro, build
from tests.facts.record_debian import SUITES


def _section(text: str, name: str) -> str:
    """A section's body as the script printed it (the blank line before the next `@@` cut)."""
    m = re.search(rf"^@@ {re.escape(name)}\n(.*?)\n(?=^@@ )", text, re.S | re.M)
    assert m is not None, f"no section {name}"
    return m.group(1)


# --- the files themselves ----------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_first_line_says_how_the_file_was_made(slug: str) -> None:
    first = facts_text(slug).splitlines()[0]
    if EXPECTED[slug].recorded:
        assert first.startswith("# Recorded: hardening/host/scripts/facts.sh run in a copy")
    else:
        assert first.startswith("# constructed from the distribution's defaults, not recorded"), (
            first
        )


@pytest.mark.parametrize("slug", SLUGS)
def test_sections_are_the_scripts_sections_in_its_order(slug: str) -> None:
    """The file has exactly the sections today's facts.sh prints (else re-record/regenerate)."""
    script = facts_script("ops")
    script_names: list[str] = []
    for name in re.findall(r'^\s*(?:for q in [^;]*; do )?sec "?([\w$-]+)"?', script, re.M):
        if name == "ssh-Q-$q":
            loop = re.search(r"for q in ([^;]*); do", script)
            assert loop is not None
            script_names += [f"ssh-Q-{q}" for q in loop.group(1).split()]
        else:
            script_names.append(name)
    assert script_names[:5] == ["uid", "os-release", "sshd-version", "client-addr", "sshd-T"]
    assert script_names[-1] == "end"
    assert re.findall(r"^@@ (\S+)$", facts_text(slug), re.M) == script_names


@pytest.mark.parametrize("slug", SLUGS)
def test_base64_sections_decode_strictly(slug: str) -> None:
    text = facts_text(slug)
    main_b64 = "".join(_section(text, "main-config").split())
    main = base64.b64decode(main_b64, validate=True).decode("utf-8")
    assert "Subsystem" in main  # a real sshd_config, not an empty decode
    sysconfig_b64 = "".join(_section(text, "sysconfig-sshd").split())
    sysconfig = base64.b64decode(sysconfig_b64, validate=True).decode("utf-8")
    assert sysconfig == "" or sysconfig.startswith("# Configuration file for the sshd service.")
    for line in filter(None, _section(text, "dropins").splitlines()):
        name_b64, _, data = line.partition(" ")
        name = base64.b64decode(name_b64, validate=True).decode("utf-8")
        assert name.endswith(".conf"), name
        decoded = base64.b64decode(data, validate=True).decode("utf-8")
        assert decoded.endswith("\n")
    # `base64` wraps at 76 columns; the recorded files prove the script's form.
    assert all(len(ln) <= 76 for ln in _section(text, "main-config").splitlines())


@pytest.mark.parametrize("distro", DISTROS, ids=[d.slug for d in DISTROS])
def test_constructed_files_match_their_generator(distro: Distro) -> None:
    assert facts_text(distro.slug) == build(distro), "run python -m tests.facts.assemble"


def test_every_distribution_has_a_file_and_only_debian_is_recorded() -> None:
    assert set(SLUGS) == {d.slug for d in DISTROS} | set(SUITES.values())
    assert {s for s in SLUGS if EXPECTED[s].recorded} == {"debian-11", "debian-12", "debian-13"}


# --- parse_facts -----------------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_os_and_openssh_version(slug: str) -> None:
    facts, want = load_facts(slug), EXPECTED[slug]
    assert facts.os_id == want.os_id
    assert facts.os_version == want.os_version
    assert facts.version == want.version
    assert facts.version_text == f"OpenSSH_{want.version[0]}.{want.version[1]}"
    assert facts.uid == 0
    assert facts.sshd_test_error is None


@pytest.mark.parametrize(
    ("slug", "pretty"),
    [
        ("ubuntu-22.04", "Ubuntu 22.04.5 LTS"),
        ("debian-12", "Debian GNU/Linux 12 (bookworm)"),
        ("alinux-3", "Alibaba Cloud Linux 3.2104 U9 (OpenAnolis Edition)"),
        ("centos-7", "CentOS Linux 7 (Core)"),
        ("rocky-9", "Rocky Linux 9.4 (Blue Onyx)"),
    ],
)
def test_os_name_is_the_pretty_name_without_quotes(slug: str, pretty: str) -> None:
    assert load_facts(slug).os_name == pretty


@pytest.mark.parametrize("slug", SLUGS)
def test_service_name_socket_activation_and_reload(slug: str) -> None:
    facts, want = load_facts(slug), EXPECTED[slug]
    assert facts.service.name == want.service
    assert facts.service.socket_activated is want.socket_activated
    commands = service_commands(facts)
    assert commands.reload == want.reload
    assert commands.restart == want.restart


@pytest.mark.parametrize("slug", SLUGS)
def test_service_manager(slug: str) -> None:
    facts = load_facts(slug)
    if slug.startswith("debian-"):  # recorded in a chroot: no systemd, the init script
        assert facts.service.manager == "none"
        assert facts.service.init_scripts == ("ssh",)
        assert facts.service.units == {}
        assert facts.service.listener_pid is None
    else:
        assert facts.service.manager == "systemd"
        assert f"{EXPECTED[slug].service}.service" in facts.service.units
        assert facts.service.pid_file == "/run/sshd.pid"
        assert isinstance(facts.service.listener_pid, int)


def test_only_ubuntu_24_04_has_an_active_socket_unit() -> None:
    active = {
        slug
        for slug in SLUGS
        for unit, (_, state) in load_facts(slug).service.units.items()
        if unit.endswith(".socket") and state == "active"
    }
    assert active == {"ubuntu-24.04"}
    assert load_facts("ubuntu-24.04").service.units["ssh.socket"] == ("enabled", "active")


@pytest.mark.parametrize("slug", SLUGS)
def test_dropins_and_main_config(slug: str) -> None:
    facts, want = load_facts(slug), EXPECTED[slug]
    assert tuple(sorted(facts.dropins)) == want.dropins
    if "50-cloud-init.conf" in want.dropins:
        assert facts.dropins["50-cloud-init.conf"] == "PasswordAuthentication yes\n"
    first = next(
        ln.split()[0]
        for ln in facts.main_config.splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    )
    if slug in WITH_INCLUDE:
        assert first == "Include"
        assert "Include /etc/ssh/sshd_config.d/*.conf\n" in facts.main_config
    else:
        assert slug in WITHOUT_INCLUDE
        assert "Include" not in re.sub(r"(?m)^#.*$", "", facts.main_config)


@pytest.mark.parametrize("slug", WITHOUT_INCLUDE)
def test_rhel_family_main_files_set_root_and_password_login_themselves(slug: str) -> None:
    main = load_facts(slug).main_config
    assert "\nPasswordAuthentication yes\n" in main
    assert "\nChallengeResponseAuthentication no\n" in main
    assert "\nUsePAM yes\n" in main
    assert "\nGSSAPIAuthentication yes\n" in main
    assert "Subsystem\tsftp\t/usr/libexec/openssh/sftp-server\n" in main
    assert ("\nPermitRootLogin yes\n" in main) is (slug == "alinux-3")  # CentOS 7: compiled in


@pytest.mark.parametrize("slug", SLUGS)
def test_effective_configuration(slug: str) -> None:
    facts, want = load_facts(slug), EXPECTED[slug]
    eff = facts.effective
    # cloud-init's drop-in, or the RHEL-family main file, lets passwords in before hardening.
    assert eff["passwordauthentication"] == "yes"
    assert eff["permitrootlogin"] == want.permit_root_login
    assert eff["pubkeyauthentication"] == "yes"
    assert eff["usepam"] == "yes"
    assert eff["port"] == "22"
    # Repeated keys are joined, in order.
    assert eff["hostkey"] == (
        "/etc/ssh/ssh_host_rsa_key /etc/ssh/ssh_host_ecdsa_key /etc/ssh/ssh_host_ed25519_key"
    )
    assert eff["listenaddress"] == "[::]:22 0.0.0.0:22"
    # Before 8.7 ChallengeResponseAuthentication is its own key; from 8.7 an unprinted alias.
    assert ("challengeresponseauthentication" in eff) is (want.version < (8, 7))
    assert all(k == k.lower() for k in eff)


@pytest.mark.parametrize("slug", SLUGS)
def test_algorithms_and_host_keys(slug: str) -> None:
    facts = load_facts(slug)
    assert facts.host_key_types == {"rsa", "ecdsa", "ed25519"}
    assert "aes128-ctr" in facts.algorithms["cipher"]
    assert "hmac-sha2-256-etm@openssh.com" in facts.algorithms["mac"]
    assert "curve25519-sha256@libssh.org" in facts.algorithms["kex"]
    assert ("mlkem768x25519-sha256" in facts.algorithms["kex"]) is (slug == "debian-13")
    if slug == "centos-7":  # `ssh -Q key-sig` does not exist in 7.4
        assert facts.algorithms["key-sig"] == frozenset()
        assert "arcfour" in facts.algorithms["cipher"]
    else:
        assert {"ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256"} <= facts.algorithms["key-sig"]


@pytest.mark.parametrize("slug", SLUGS)
def test_listener_command_line_and_sysconfig(slug: str) -> None:
    facts = load_facts(slug)
    if EXPECTED[slug].recorded:  # chroot: no sshd running, no /etc/sysconfig
        assert facts.listener_cmdline == ""
        assert facts.sysconfig_sshd is None
    elif slug == "alinux-3":  # $CRYPTO_POLICY from the unit's EnvironmentFile
        assert facts.listener_cmdline.startswith("/usr/sbin/sshd -D -oCiphers=aes256-gcm@")
        assert " -oKexAlgorithms=" in facts.listener_cmdline
        assert not facts.listener_cmdline.endswith(" ")
        assert facts.sysconfig_sshd is not None
        assert facts.sysconfig_sshd.endswith("# CRYPTO_POLICY=\n")
    elif slug == "centos-7":  # no crypto policies on RHEL 7
        assert facts.listener_cmdline == "/usr/sbin/sshd -D"
        assert facts.sysconfig_sshd is not None
        assert "CRYPTO_POLICY" not in facts.sysconfig_sshd
    else:  # 8.2+: the listener retitles itself
        assert facts.listener_cmdline == "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"
        assert (facts.sysconfig_sshd is not None) is (slug == "rocky-9")


@pytest.mark.parametrize("slug", SLUGS)
def test_admin_lock_and_client_address(slug: str) -> None:
    facts = load_facts(slug)
    assert facts.admin.exists is False
    assert facts.admin.authorized_keys == ()
    assert facts.lock_holder is None
    assert facts.lock_alive is False
    expected_addr = "127.0.0.1" if EXPECTED[slug].recorded else "198.51.100.7"
    assert facts.client_addr == expected_addr


@pytest.mark.parametrize("slug", SLUGS)
def test_capabilities_carry_version_algorithms_and_sshd_keys(slug: str) -> None:
    facts = load_facts(slug)
    caps = facts.capabilities
    assert caps.version == EXPECTED[slug].version
    assert caps.algorithms == facts.algorithms
    assert caps.host_key_types == facts.host_key_types
    assert "gssapiauthentication" in caps.sshd_keys
    assert ("debianbanner" in caps.sshd_keys) is (slug == "debian-13")


# --- parse_facts on variations of a recorded output ---------------------------------------------


def test_text_before_the_first_section_is_ignored() -> None:
    text = facts_text("debian-12")
    assert not text.startswith("@@")
    body = text[text.index("\n@@ uid") :]
    assert parse_facts(body) == parse_facts(text)
    assert parse_facts("login banner\nMOTD @@ not a section\n" + body) == parse_facts(text)


def test_truncated_output_is_a_facts_error() -> None:
    text = facts_text("debian-12")
    with pytest.raises(FactsError, match="did not run the facts script to its end"):
        parse_facts(text[: text.index("\n@@ end")])


def test_no_sshd_version_is_a_facts_error() -> None:
    text = re.sub(r"OpenSSH_9\.2", "sshd: command not found", facts_text("debian-12"))
    with pytest.raises(FactsError, match="no OpenSSH server"):
        parse_facts(text)


def test_failing_sshd_T_is_reported_and_leaves_no_effective_values() -> None:
    text = facts_text("debian-12")
    start = text.index("@@ sshd-T\n") + len("@@ sshd-T\n")
    end = text.index("@rc=0\n", start) + len("@rc=0\n")
    broken = (
        text[:start]
        + "/etc/ssh/sshd_config.d/50-cloud-init.conf: line 1: Bad configuration option: Pasword\n"
        + "@rc=255\n"
        + text[end:]
    )
    facts = parse_facts(broken)
    assert facts.effective == {}
    assert facts.sshd_test_error == (
        "/etc/ssh/sshd_config.d/50-cloud-init.conf: line 1: Bad configuration option: Pasword"
    )
    assert facts.capabilities.sshd_keys == frozenset()


def test_admin_and_lock_sections() -> None:
    text = facts_text("debian-12")
    text = text.replace(
        "@@ admin\nexists no\n",
        "@@ admin\nexists yes\nhome /home/ops\ngroups ops sudo\nauthorized_keys\n"
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample ops@laptop\n\n",
    ).replace("@@ lock\n", "@@ lock\nheld 4242 2025-01-01T00:00:00Z\nalive\n")
    facts = parse_facts(text)
    assert facts.admin.exists is True
    assert facts.admin.home == "/home/ops"
    assert facts.admin.groups == ("ops", "sudo")
    assert facts.admin.authorized_keys == (
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample ops@laptop",
    )
    assert facts.lock_holder == "4242 2025-01-01T00:00:00Z"
    assert facts.lock_alive is True


def test_service_without_systemd_or_init_script_reloads_by_pid_file() -> None:
    facts = load_facts("debian-12")
    bare = dataclasses.replace(
        facts, service=Service(manager="none", pid_file="/var/run/sshd.pid", listener_pid=77)
    )
    assert bare.service.name == "sshd"
    assert service_commands(bare).reload == 'kill -HUP "$(cat /var/run/sshd.pid)"'


def test_service_name_prefers_an_active_service_over_an_alias_listed_later() -> None:
    units = {
        "ssh.service": ("enabled", "active"),
        "sshd.service": ("alias", "active"),
    }
    assert Service(manager="systemd", units=units).name == "ssh"
    socket_only = {"ssh.service": ("disabled", "inactive"), "ssh.socket": ("enabled", "active")}
    assert Service(manager="systemd", units=socket_only).name == "ssh"
    assert Service(manager="systemd", units=socket_only).socket_activated is True


def test_socket_activated_sshd_is_restarted_through_its_service_and_only_if_running() -> None:
    # Debian's ssh.socket (Accept=no) hands sshd its listener; a SIGHUP re-exec loses it.
    facts = load_facts("debian-13")
    started = {"ssh.service": ("disabled", "active"), "ssh.socket": ("enabled", "active")}
    per_connection = {"ssh.service": ("disabled", "inactive"), "ssh.socket": ("enabled", "active")}
    for units, restart in ((started, "restart"), (per_connection, "try-restart")):
        svc = Service(manager="systemd", units=units)
        commands = service_commands(dataclasses.replace(facts, service=svc))
        # The start limit reset first: a few applies in a row would reach it (socket_port.py).
        reset = "systemctl reset-failed ssh.service; "
        assert commands.reload == f"{reset}systemctl try-restart ssh.service"
        assert commands.restart == f"{reset}systemctl {restart} ssh.service"


@pytest.mark.parametrize("slug", SLUGS)
def test_rollback_watcher_leaves_the_session_through_systemd_where_it_runs(slug: str) -> None:
    # logind's KillUserProcesses= kills a session's setsid children; a transient unit is not
    # in the session.
    facts = load_facts(slug)
    want = "systemd-run" if facts.service.manager == "systemd" else "setsid"
    assert service_commands(facts).watcher == want


def test_unit_line_with_empty_is_enabled_keeps_its_columns() -> None:
    # `unit ssh.service enabled= active=inactive`: no such unit on RHEL, so not a unit at all,
    # and the real one keeps both of its columns.
    facts = load_facts("rocky-9")
    assert "ssh.service" not in facts.service.units
    assert facts.service.units["sshd.service"] == ("enabled", "active")


def test_dropin_name_with_a_space() -> None:
    text = facts_text("debian-12")
    data = base64.b64encode(b"PermitRootLogin yes\n").decode()
    name = base64.b64encode(b"my site.conf").decode()
    text = text.replace("@@ dropins\n", f"@@ dropins\n{name} {data}\n")
    try:
        facts: HostFacts | None = parse_facts(text)
    except (binascii.Error, ValueError):
        facts = None
    assert facts is not None
    assert facts.dropins.get("my site.conf") == "PermitRootLogin yes\n"
