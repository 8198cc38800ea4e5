"""Proof (issue 2): `python -m hardening` against real OpenSSH hosts, run as an operator runs it.

Every host starts as a fresh cloud image (root logs in with a key and with its password,
cloud-init's drop-in allows both), on Debian bullseye, bookworm and trixie (OpenSSH 8.4, 9.2,
10.0) and on bookworm without `Include` (how RHEL-family images ship). The CLI runs as a
subprocess; what it did is judged from the host: real logins, `sshd -T`, ssh-audit, the files,
the listener and sshd's own log. The engine's report is checked against those, never trusted.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ClientKeys, HostFactory
from tests.helpers.chroot_observe import (
    BLOCK_BEGIN,
    BLOCK_END,
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
    host_cli,
    host_key_fingerprint,
    known_hosts_name,
    listener,
    managed_block,
    read_file,
    snapshot,
    snapshot_diff,
    table_rows,
    wanted_values,
)
from tests.helpers.cli import Outcome, cli_json, must
from tests.testhosts.chroot import (
    LOOPBACK,
    TestHost,
    audit_failures,
    ssh_audit,
    try_password,
)

pytestmark = pytest.mark.host

TESTHOST_DROPIN = "/etc/ssh/sshd_config.d/10-testhost.conf"
CLOUD_INIT_DROPIN = "/etc/ssh/sshd_config.d/50-cloud-init.conf"


@dataclass(frozen=True)
class Variant:
    suite: str
    include: bool
    key: str  # which ClientKeys key logs in (Alibaba imports RSA and ECDSA, not ed25519)

    @property
    def id(self) -> str:
        return self.suite if self.include else f"{self.suite}-no-include"

    @property
    def mode(self) -> str:
        return "dropin" if self.include else "inplace"

    @property
    def written(self) -> str:
        """The one file an apply writes on a fresh image."""
        return DROPIN if self.include else MAIN_CONFIG


VARIANTS = (
    Variant("bullseye", True, "ecdsa"),
    Variant("bookworm", True, "ed25519"),
    Variant("trixie", True, "ed25519"),
    Variant("bookworm", False, "rsa"),
)


@dataclass
class Case:
    """One fresh host, the client key that logs in to it, and the operator's known_hosts."""

    variant: Variant
    host: TestHost
    key: Path
    known_hosts: Path

    def cli(self, action: str, *args: str, **kwargs: Any) -> Outcome:
        return host_cli(
            self.host, action, *args, key=self.key, known_hosts=self.known_hosts, **kwargs
        )

    def apply_json(self, *args: str, **kwargs: Any) -> dict[str, Any]:
        return cli_json(must(self.cli("apply", "--json", *args, **kwargs)))

    @property
    def prefix(self) -> str:
        """How the CLI names the host in its human-readable output."""
        return f"{LOOPBACK}:{self.host.port}"

    @property
    def pre_8_7(self) -> bool:
        return self.host.openssh_release < (8, 7)


@pytest.fixture(params=VARIANTS, ids=[v.id for v in VARIANTS])
def case(
    request: pytest.FixtureRequest,
    host_factory: HostFactory,
    client_keys: ClientKeys,
    tmp_path: Path,
) -> Iterator[Case]:
    variant: Variant = request.param
    key: Path = getattr(client_keys, variant.key)
    host = host_factory(variant.suite, include=variant.include, cloud_init=True)
    yield Case(variant, host, key, tmp_path / "known_hosts")


def _main_without_block(text: str) -> str:
    lines = text.splitlines(keepends=True)
    begin = lines.index(BLOCK_BEGIN + "\n")
    end = lines.index(BLOCK_END + "\n")
    return "".join(lines[:begin] + lines[end + 1 :])


def _audit_names(report: dict[str, Any], section: str) -> set[str]:
    names = {str(e["algorithm"]) for e in report[section]}
    # Protocol markers, not algorithms a client can choose.
    return {n for n in names if not n.startswith(("kex-strict-", "ext-info-"))}


# --------------------------------------------------------------------------- apply


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
    assert _audit_names(audit, "kex") == set(wanted["KexAlgorithms"].split(","))
    assert _audit_names(audit, "enc") == set(wanted["Ciphers"].split(","))
    assert _audit_names(audit, "mac") == set(wanted["MACs"].split(","))
    assert _audit_names(audit, "key") == set(wanted["HostKeyAlgorithms"].split(","))

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
        assert _main_without_block(main) == main_before
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
    assert human.stdout == f"{case.prefix}: unchanged, compliant=true\n"
    assert "compliant, nothing to change" in human.stderr
    assert listener(host) == listening


# --------------------------------------------------------------------------- check


def test_check_reports_drift_then_compliance(case: Case) -> None:
    host = case.host
    files, listening = snapshot(host), listener(host)

    drift = must(case.cli("check"), 1)

    lines = drift.stdout.splitlines()
    rows = table_rows(drift.stdout)
    assert lines[0] == f"{case.prefix}: drift in {len(rows)} setting(s)"
    assert re.split(r"\s{2,}", lines[1].strip()) == ["directive", "wanted", "effective"]
    table = {r[0]: r[1:] for r in rows}
    assert table["PermitRootLogin"] == ["no", "yes"]
    assert table["PasswordAuthentication"] == ["no", "yes"]
    assert table["AuthenticationMethods"] == ["publickey", "any"]
    assert table["MaxAuthTries"] == ["3", "6"]
    assert table["X11Forwarding"] == ["no", "yes"]  # Debian's main file sets it
    assert "PubkeyAuthentication" not in table  # compliant already: not drift
    assert "KbdInteractiveAuthentication" not in table  # Debian turns it off
    as_json = cli_json(must(case.cli("check", "--json"), 1))
    assert as_json["compliant"] is False and as_json["exit_code"] == 1
    assert as_json["changed"] is False
    assert set(as_json["drift"]) == set(table)
    # Read-only: not a file, not the listener.
    assert snapshot_diff(files, snapshot(host)) == []
    assert listener(host) == listening

    must(case.cli("apply"))
    for user in ("ops", "root"):  # root is refused now and falls back to ops
        ok = must(case.cli("check", user=user))
        assert ok.stdout == f"{case.prefix}: compliant ({len(as_json['settings'])} settings)\n"
    assert cli_json(must(case.cli("check", "--json")))["drift"] == []


# --------------------------------------------------------------------------- plan


def test_plan_changes_nothing_and_lists_what_apply_will_change(case: Case) -> None:
    host = case.host
    files, listening, written = snapshot(host), listener(host), set(host.changed_paths())

    shown = must(case.cli("plan"))
    as_json = cli_json(must(case.cli("plan", "--json")))

    rows = table_rows(shown.stdout)
    lines = shown.stdout.splitlines()
    assert lines[0] == (
        f"{case.prefix}: {len(rows)} setting(s) to change; files to write: {case.variant.written}"
    )
    assert re.split(r"\s{2,}", lines[1].strip()) == ["directive", "effective now", "wanted"]
    table = {r[0]: r[1:] for r in rows}
    assert table["PermitRootLogin"] == ["yes", "no"]
    assert table["PasswordAuthentication"] == ["yes", "no"]
    assert "PubkeyAuthentication" not in table
    assert as_json["files"] == [case.variant.written]
    assert as_json["changed"] is False and as_json["error"] is None
    assert set(as_json["drift"]) == set(table)
    assert "root will lose SSH login: ops would be ensured and proven first" in as_json["notes"]

    # Nothing on the host moved: files, accounts, listener, anything else written.
    assert snapshot_diff(files, snapshot(host)) == []
    assert listener(host) == listening
    assert host.run("id ops").returncode != 0
    new = sorted(set(host.changed_paths()) - written)
    # Written by sshd and PAM for the engine's root session (wtmp, lastlog, pam_motd).
    login_records = ("/var/log/", "/run/utmp", "/var/run/utmp", "/run/motd.dynamic")
    assert [p for p in new if not p.startswith(login_records)] == []
    image = access(host, case.key)
    assert image.root_key and image.root_password

    # And the plan was right: apply changes exactly those settings, in exactly those files.
    applied = case.apply_json()
    assert applied["files"] == as_json["files"]
    changed = {n for n, s in applied["settings"].items() if s["before"] != s["after"]}
    assert changed == set(as_json["drift"])
    after = must(case.cli("plan"))
    assert after.stdout == f"{case.prefix}: 0 setting(s) to change; files to write: none\n"


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
    assert _main_without_block(text) == edited  # the earlier lines are still there, and lose
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


# --------------------------------------------------------------------------- host keys


def test_host_key_is_recorded_then_checked(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    case = Case(VARIANTS[1], host, client_keys.ed25519, tmp_path / "known_hosts")
    fingerprint = host_key_fingerprint(host)
    name = known_hosts_name(host)
    entry = f"{name} {host.host_public_keys()['ssh-ed25519']}\n"

    unknown = must(case.cli("check", accept_new_host_key=False), 3)
    assert "unknown" in unknown.stdout and fingerprint in unknown.stdout
    assert not case.known_hosts.exists()

    must(case.cli("plan", accept_new_host_key=True))
    assert case.known_hosts.read_text() == entry
    # OpenSSH itself reads the entry and finds the same key.
    lookup = subprocess.run(
        ["ssh-keygen", "-l", "-F", name, "-f", str(case.known_hosts)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lookup.returncode == 0 and fingerprint in lookup.stdout, lookup

    # Later runs without the flag use the recorded key, and leave the file alone.
    report = cli_json(must(case.cli("apply", "--json", accept_new_host_key=False)))
    assert report["changed"] is True and report["host_key_fingerprint"] == fingerprint
    must(case.cli("check", user="ops", accept_new_host_key=False))
    assert case.known_hosts.read_text() == entry

    # A pinned fingerprint needs no known_hosts and writes none; a wrong one is refused.
    pinned = tmp_path / "pinned_known_hosts"
    must(
        host_cli(host, "check", key=case.key, known_hosts=pinned, host_key_fingerprint=fingerprint)
    )
    assert not pinned.exists()
    wrong = "SHA256:" + "A" * 43
    refused = must(
        host_cli(host, "check", key=case.key, known_hosts=pinned, host_key_fingerprint=wrong), 3
    )
    assert fingerprint in refused.stdout and wrong in refused.stdout

    # A different server on the same address: the recorded key is what is checked.
    port = host.port
    host.stop()
    impostor = host_factory("bookworm", port=port)
    log_from = len(impostor.syslog())
    for accept in (False, True):  # --accept-new-host-key never accepts a *changed* key
        changed = must(
            host_cli(
                impostor,
                "check",
                key=case.key,
                known_hosts=case.known_hosts,
                accept_new_host_key=accept,
            ),
            3,
        )
        assert "HOST KEY CHANGED" in changed.stdout, shlex.join(map(str, changed.argv))
    assert case.known_hosts.read_text() == entry
    # The connections arrived, and ended before any authentication was attempted.
    log = impostor.syslog()[log_from:]
    assert f"by {LOOPBACK} port" in log, log
    assert "publickey" not in log and "authenticating user" not in log, log
