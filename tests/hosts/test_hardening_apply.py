"""Proof (issue 2), `python -m hardening` against real OpenSSH hosts, run as an operator runs it
(the hosts and how they are judged: tests/hosts/hardening_case.py): apply on a fresh image,
then again; what the profiles set, and where settings live (earlier lines in the main config
are beaten).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ClientKeys, HostFactory
from tests.helpers.chroot_observe import (
    BLOCK_BEGIN,
    CRYPTO_DIRECTIVES,
    DROPIN,
    HARDENED_ACCESS,
    MAIN_CONFIG,
    MINIMAL_DIRECTIVES,
    REPORT_KEYS,
    SETTING_KEYS,
    SUDOERS_FILE,
    access,
    config_lines,
    effective_mismatches,
    exists,
    file_meta,
    host_key_fingerprint,
    listener,
    managed_block,
    read_file,
    snapshot,
    snapshot_diff,
    wanted_values,
)
from tests.helpers.cli import must
from tests.hosts.hardening_case import (
    CLOUD_INIT_DROPIN,
    TESTHOST_DROPIN,
    Case,
    Variant,
    audit_names,
    main_without_block,
)
from tests.testhosts.chroot import LOOPBACK, audit_failures, ssh_audit, try_password

pytestmark = pytest.mark.host


def test_apply_hardens_a_fresh_image(case: Case) -> None:
    host, key = case.host, case.key
    # The image as cloud-init leaves it: each proof below would fail here.
    image = access(host, key)
    assert image.root_key and image.root_password, image
    assert "password" in image.root_methods, image
    assert not image.admin_key, image
    assert audit_failures(ssh_audit(host.port)), "the image's defaults should fail ssh-audit"
    main_before = read_file(host, MAIN_CONFIG)
    dropins_before = {}
    if case.variant.include:
        dropins_before = {p: read_file(host, p) for p in (TESTHOST_DROPIN, CLOUD_INIT_DROPIN)}
        assert "PermitRootLogin yes" in dropins_before[CLOUD_INIT_DROPIN]
    else:  # cloud-init's lines are in the main file, after where our block goes
        assert "PermitRootLogin yes" in main_before.splitlines()
    listening = listener(host)

    report = case.apply_json()

    # The report: the promised shape, and what happened.
    assert report.keys() >= REPORT_KEYS
    assert report["host"] == LOOPBACK and report["port"] == host.port
    assert (report["changed"], report["compliant"], report["rolled_back"]) == (True, True, False)
    assert report["error"] is None and report["exit_code"] == 0
    assert report["user"] == "root"
    assert report["mode"] == case.variant.mode
    assert report["files"] == [case.variant.written]
    assert report["host_key_fingerprint"] == host_key_fingerprint(host)
    settings: dict[str, dict[str, str | None]] = report["settings"]
    for name, s in settings.items():
        assert s.keys() == SETTING_KEYS, name
        assert str(s["after"]).lower() == str(s["wanted"]).lower(), (name, s)
    assert settings["PermitRootLogin"] == {"wanted": "no", "before": "yes", "after": "no"}
    assert settings["PasswordAuthentication"] == {"wanted": "no", "before": "yes", "after": "no"}
    assert settings["KbdInteractiveAuthentication"]["wanted"] == "no"
    assert settings["AuthenticationMethods"] == {
        "wanted": "publickey",
        "before": "any",
        "after": "publickey",
    }
    for name in CRYPTO_DIRECTIVES:
        assert settings[name]["before"] != settings[name]["wanted"], name
    if case.pre_8_7:  # a separate switch before OpenSSH 8.7: both doors closed
        assert settings["ChallengeResponseAuthentication"]["wanted"] == "no"
    else:
        assert "ChallengeResponseAuthentication" not in settings
    wanted = wanted_values(report)

    # Real logins: root out (key and password), only keys offered, the admin in with sudo.
    assert access(host, key) == HARDENED_ACCESS
    assert not try_password(host.port, "ops", host.root_password)

    # sshd itself: every wanted value, the auth switches spelled out, the test port kept.
    assert effective_mismatches(host, wanted) == []
    effective = host.sshd_effective()
    assert effective["permitrootlogin"] == "no"
    assert effective["passwordauthentication"] == "no"
    assert effective["kbdinteractiveauthentication"] == "no"
    if case.pre_8_7:
        assert effective["challengeresponseauthentication"] == "no"
    for name in CRYPTO_DIRECTIVES:
        assert effective[name.lower()] == wanted[name], name
    assert effective["port"] == str(host.port)
    assert effective["listenaddress"] == f"{LOOPBACK}:{host.port}"

    # What a client sees before authenticating: nothing ssh-audit fails, exactly our lists.
    audit = ssh_audit(host.port)
    assert audit_failures(audit) == []
    assert audit_names(audit, "kex") == set(wanted["KexAlgorithms"].split(","))
    assert audit_names(audit, "enc") == set(wanted["Ciphers"].split(","))
    assert audit_names(audit, "mac") == set(wanted["MACs"].split(","))
    assert audit_names(audit, "key") == set(wanted["HostKeyAlgorithms"].split(","))

    # The files: ours root:root 0600 and read first; everything else as it was.
    if case.variant.include:
        assert file_meta(host, DROPIN) == "root:root 600"
        assert config_lines(read_file(host, DROPIN)) == list(wanted.items())
        assert read_file(host, MAIN_CONFIG) == main_before
        for path, text in dropins_before.items():  # cloud-init's drop-in stays, and loses
            assert read_file(host, path) == text, path
    else:
        main = read_file(host, MAIN_CONFIG)
        assert file_meta(host, MAIN_CONFIG) == "root:root 600"
        assert main.splitlines()[0] == BLOCK_BEGIN
        assert config_lines(managed_block(main)) == list(wanted.items())
        assert main_without_block(main) == main_before
        assert not exists(host, DROPIN)
    sudoers = SUDOERS_FILE.format(user="ops")
    assert file_meta(host, sudoers) == "root:root 440"
    assert read_file(host, sudoers) == "ops ALL=(ALL) NOPASSWD:ALL\n"
    assert host.run("visudo -c").returncode == 0

    # One reload (sshd re-executed: a new listen socket), no restart.
    now = listener(host)
    assert now.reloads == listening.reloads + 1
    assert now.sockets.isdisjoint(listening.sockets)
    assert now.pid == listening.pid


def test_second_apply_is_a_no_op(case: Case) -> None:
    host = case.host
    first = case.apply_json()
    assert first["changed"] is True and first["user"] == "root"
    files, listening = snapshot(host), listener(host)
    refusals = host.syslog().count("ROOT LOGIN REFUSED")

    second = case.apply_json()  # the same command: --user root, now refused, falls back to ops

    assert (second["changed"], second["compliant"], second["rolled_back"]) == (False, True, False)
    assert second["error"] is None and second["exit_code"] == 0
    assert second["user"] == "ops"
    assert second["files"] == []
    assert wanted_values(second) == wanted_values(first)
    for name, s in second["settings"].items():
        assert s["before"] == s["after"] == first["settings"][name]["after"], name
    assert snapshot_diff(files, snapshot(host)) == []
    # Same listener PID, same listen socket (no re-exec), no SIGHUP in sshd's log.
    assert listener(host) == listening
    # The fallback was needed (sshd refused root's key), not taken blindly.
    assert host.syslog().count("ROOT LOGIN REFUSED") > refusals

    human = must(case.cli("apply"))  # results on stdout, progress on stderr
    # Root's key is refused by now: the text says who was logged in instead.
    assert human.stdout == f"{case.prefix}: unchanged, compliant=true (as ops)\n"
    assert "compliant, nothing to change" in human.stderr
    assert listener(host) == listening


# --------------------------------------------------------------------------- profiles


def test_minimal_profile_applies_only_its_directives(case: Case) -> None:
    host = case.host
    effective_before = host.sshd_effective()

    report = case.apply_json("--profile", "minimal")

    expected = set(MINIMAL_DIRECTIVES)
    if case.pre_8_7:
        expected.add("ChallengeResponseAuthentication")
    assert set(report["settings"]) == expected
    assert report["changed"] is True and report["compliant"] is True
    wanted = wanted_values(report)
    assert wanted == {
        "PermitRootLogin": "no",
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "PubkeyAuthentication": "yes",
        **({"ChallengeResponseAuthentication": "no"} if case.pre_8_7 else {}),
    }
    if case.variant.include:
        ours = read_file(host, DROPIN)
    else:
        ours = managed_block(read_file(host, MAIN_CONFIG))
    assert {k for k, _ in config_lines(ours)} == expected
    assert effective_mismatches(host, wanted) == []
    # Everything else sshd does is exactly as before (crypto, forwarding, limits...).
    untouched = {k.lower() for k in expected}
    effective_after = host.sshd_effective()
    assert {k: v for k, v in effective_after.items() if k not in untouched} == {
        k: v for k, v in effective_before.items() if k not in untouched
    }
    assert effective_after["x11forwarding"] == "yes"
    assert access(host, case.key) == HARDENED_ACCESS


# --------------------------------------------------------------------------- where settings live


@dataclass(frozen=True)
class EarlierLines:
    suite: str
    lines: str  # inserted just before the main file's Include line
    effective: dict[str, str]  # what sshd -T shows because of them
    keywords: tuple[str, ...]  # the keywords the engine must see there


EARLIER = (
    EarlierLines(
        "bullseye",
        "PermitRootLogin yes\nPasswordAuthentication yes\n",
        {"permitrootlogin": "yes", "passwordauthentication": "yes"},
        ("permitrootlogin", "passwordauthentication"),
    ),
    # `Keyword=value`, and the old name of KbdInteractiveAuthentication (an alias since 8.7):
    # PAM would ask root for its password.
    EarlierLines(
        "bookworm",
        "PermitRootLogin=yes\nChallengeResponseAuthentication yes\n",
        {"permitrootlogin": "yes", "kbdinteractiveauthentication": "yes"},
        ("permitrootlogin", "challengeresponseauthentication"),
    ),
    EarlierLines(
        "trixie",
        "PermitRootLogin\tyes\nPasswordAuthentication yes\n",
        {"permitrootlogin": "yes", "passwordauthentication": "yes"},
        ("permitrootlogin", "passwordauthentication"),
    ),
)


@pytest.mark.parametrize("earlier", EARLIER, ids=[e.suite for e in EARLIER])
def test_earlier_line_in_main_config_is_beaten(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path, earlier: EarlierLines
) -> None:
    # No cloud-init drop-in: root and its password are let in by lines that precede the
    # Include, where no drop-in (read at the Include) can override them.
    host = host_factory(earlier.suite, cloud_init=False)
    original = read_file(host, MAIN_CONFIG)
    include_at = original.index("\nInclude ") + 1
    edited = original[:include_at] + earlier.lines + original[include_at:]
    host.run(f"cat > {MAIN_CONFIG}", input=edited, check=True)
    host.reload()
    effective = host.sshd_effective()
    assert {k: effective[k] for k in earlier.effective} == earlier.effective
    assert try_password(host.port, "root", host.root_password)
    case = Case(Variant(earlier.suite, True, "ed25519"), host, client_keys.ed25519, tmp_path / "kh")

    report = case.apply_json()

    assert report["mode"] == "inplace"
    assert report["files"] == [MAIN_CONFIG]
    assert any(
        "Include" in note and all(k in note for k in earlier.keywords) for note in report["notes"]
    ), report["notes"]
    text = read_file(host, MAIN_CONFIG)
    assert text.splitlines()[0] == BLOCK_BEGIN
    assert main_without_block(text) == edited  # the earlier lines are still there, and lose
    assert file_meta(host, MAIN_CONFIG) == "root:root 600"
    assert not exists(host, DROPIN)
    assert effective_mismatches(host, wanted_values(report)) == []
    effective = host.sshd_effective()
    assert {k: effective[k] for k in earlier.effective} == dict.fromkeys(earlier.effective, "no")
    assert access(host, case.key) == HARDENED_ACCESS

    files, listening = snapshot(host), listener(host)
    again = case.apply_json()
    assert again["changed"] is False and again["mode"] == "inplace"
    assert snapshot_diff(files, snapshot(host)) == []
    assert listener(host) == listening

    # The operator deletes the earlier line (our block stays): a drop-in wins again, so the
    # block goes and the drop-in comes.
    host.run(f"cat > {MAIN_CONFIG}", input=text.replace(earlier.lines, "", 1), check=True)
    back = case.apply_json()
    assert back["mode"] == "dropin" and back["changed"] is True
    assert sorted(back["files"]) == sorted([DROPIN, MAIN_CONFIG])
    assert read_file(host, MAIN_CONFIG) == original
    assert config_lines(read_file(host, DROPIN)) == list(wanted_values(back).items())
    assert effective_mismatches(host, wanted_values(back)) == []
    assert access(host, case.key) == HARDENED_ACCESS


def test_placement_block_beats_cloud_init_and_moves_back(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    """`--placement block` on a host with Include: our block tops sshd_config, before the
    Include and so before cloud-init's drop-in (root and passwords allowed); `dropin` again
    puts the drop-in back and leaves the image's sshd_config as it was (but its mode)."""
    host = host_factory("bookworm")
    original = read_file(host, MAIN_CONFIG)
    assert "PasswordAuthentication yes" in read_file(host, CLOUD_INIT_DROPIN)
    case = Case(Variant("bookworm", True, "ed25519"), host, client_keys.ed25519, tmp_path / "kh")

    report = case.apply_json("--placement", "block")

    assert report["mode"] == "inplace" and report["files"] == [MAIN_CONFIG]
    assert any("--placement block" in note for note in report["notes"]), report["notes"]
    text = read_file(host, MAIN_CONFIG)
    assert text.splitlines()[0] == BLOCK_BEGIN
    assert main_without_block(text) == original
    assert file_meta(host, MAIN_CONFIG) == "root:root 600"
    assert not exists(host, DROPIN)
    assert effective_mismatches(host, wanted_values(report)) == []
    assert access(host, case.key) == HARDENED_ACCESS
    again = case.apply_json("--placement", "block")
    assert again["changed"] is False

    back = case.apply_json()
    assert back["mode"] == "dropin" and back["changed"] is True
    assert sorted(back["files"]) == sorted([DROPIN, MAIN_CONFIG])
    assert read_file(host, MAIN_CONFIG) == original
    assert file_meta(host, MAIN_CONFIG) == "root:root 600"
    assert effective_mismatches(host, wanted_values(back)) == []
    assert access(host, case.key) == HARDENED_ACCESS
