"""The desired state: request validation, and the settings chosen for each distribution's sshd."""

from __future__ import annotations

import dataclasses
import re

import pytest

from hardening.desired import (
    ALGORITHM_SINCE,
    CRYPTO,
    HostCapabilities,
    Request,
    desired_settings,
)
from hardening.directives import CATALOGUE, BadValue, lookup
from hardening.transport import CLIENT_ALGORITHMS
from hardening.validation import check_request, parse_set_items
from tests.facts import EXPECTED, SLUGS, load_facts

QUERY = {"KexAlgorithms": "kex", "Ciphers": "cipher", "MACs": "mac", "HostKeyAlgorithms": "key-sig"}
KEX_CLASSIC = (
    "curve25519-sha256,curve25519-sha256@libssh.org,"
    "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512"
)
KEX_SNTRUP = "sntrup761x25519-sha512@openssh.com," + KEX_CLASSIC
KEX_BY_SLUG = {
    "ubuntu-20.04": KEX_CLASSIC,
    "ubuntu-22.04": KEX_SNTRUP,
    "ubuntu-24.04": KEX_SNTRUP,
    "debian-11": KEX_CLASSIC,
    "debian-12": "sntrup761x25519-sha512," + KEX_SNTRUP,  # Debian backported the new name
    "debian-13": "mlkem768x25519-sha256,sntrup761x25519-sha512," + KEX_SNTRUP,
    "alinux-3": KEX_CLASSIC,
    "centos-7": KEX_CLASSIC,
    "rocky-9": KEX_SNTRUP,
}
CIPHERS = (
    "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,"
    "aes256-ctr,aes192-ctr,aes128-ctr"
)
MACS = "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com"
HOSTKEYS = "ssh-ed25519,rsa-sha2-512,rsa-sha2-256"


def caps(slug: str) -> HostCapabilities:
    return load_facts(slug).capabilities


def settings(slug: str, request: Request | None = None) -> dict[str, str]:
    return desired_settings(request or Request(), caps(slug), CLIENT_ALGORITHMS)


# --- crypto per distribution ------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_crypto_lists_for_each_distribution(slug: str) -> None:
    wanted = settings(slug)
    assert wanted["KexAlgorithms"] == KEX_BY_SLUG[slug]
    assert wanted["Ciphers"] == CIPHERS
    assert wanted["MACs"] == MACS
    assert wanted["HostKeyAlgorithms"] == HOSTKEYS


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("directive", list(CRYPTO))
def test_crypto_only_names_the_host_knows_and_always_one_our_client_speaks(
    slug: str, directive: str
) -> None:
    facts = load_facts(slug)
    chosen = settings(slug)[directive].split(",")
    known = facts.algorithms[QUERY[directive]]
    for alg in chosen:
        if known:
            assert alg in known, f"{alg} is not in the host's `ssh -Q {QUERY[directive]}`"
        else:  # CentOS 7 has no `ssh -Q key-sig`: fall back on the version table
            assert ALGORITHM_SINCE[alg] <= facts.version
    assert set(chosen) & set(CLIENT_ALGORITHMS[directive]), "our own client would be locked out"
    assert chosen == [a for a in CRYPTO[directive] if a in chosen]  # preference order kept


def test_without_ssh_Q_the_version_decides() -> None:
    host = dataclasses.replace(caps("debian-12"), algorithms={})
    wanted = desired_settings(Request(), host, CLIENT_ALGORITHMS)
    # 9.2 by the table: no ML-KEM and no unsuffixed sntrup (both 9.9), the @openssh.com one yes.
    assert wanted["KexAlgorithms"] == KEX_SNTRUP
    old = dataclasses.replace(caps("centos-7"), algorithms={})
    assert desired_settings(Request(), old, CLIENT_ALGORITHMS)["KexAlgorithms"] == KEX_CLASSIC


def test_host_key_algorithms_follow_the_host_keys_present() -> None:
    rsa_only = dataclasses.replace(caps("debian-12"), host_key_types=frozenset({"rsa", "ecdsa"}))
    wanted = desired_settings(Request(), rsa_only, CLIENT_ALGORITHMS)
    assert wanted["HostKeyAlgorithms"] == "rsa-sha2-512,rsa-sha2-256"


def test_no_overlap_with_our_client_is_refused_naming_the_directive() -> None:
    # A host whose ssh knows only the unsuffixed curve25519 (paramiko speaks the @libssh.org
    # name) and group18 (paramiko stops at group16): nothing both sides speak.
    host = dataclasses.replace(
        caps("debian-12"),
        algorithms={
            **caps("debian-12").algorithms,
            "kex": frozenset({"curve25519-sha256", "diffie-hellman-group18-sha512"}),
        },
    )
    with pytest.raises(BadValue, match=r"^KexAlgorithms: none of the hardened choices .*9\.2"):
        desired_settings(Request(), host, CLIENT_ALGORITHMS)


def test_minimal_profile_sets_no_crypto() -> None:
    wanted = settings("debian-12", Request(profile="minimal"))
    assert wanted == {
        "PermitRootLogin": "no",
        "PasswordAuthentication": "no",
        "KbdInteractiveAuthentication": "no",
        "PubkeyAuthentication": "yes",
    }
    assert settings("centos-7", Request(profile="minimal")) == {
        **wanted,
        "ChallengeResponseAuthentication": "no",
    }


@pytest.mark.parametrize(
    ("directive", "value"),
    [
        ("Ciphers", "chacha20-poly1305@openssh.com"),
        ("HostKeyAlgorithms", "ecdsa-sha2-nistp256"),
        ("MACs", "umac-128-etm@openssh.com"),
    ],
)
def test_a_crypto_override_without_overlap_is_refused(directive: str, value: str) -> None:
    with pytest.raises(BadValue, match=directive):
        settings("debian-12", Request(overrides={directive: value}))


# --- ChallengeResponseAuthentication and build-optional directives -------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_challenge_response_only_before_8_7(slug: str) -> None:
    wanted = settings(slug)
    if EXPECTED[slug].version < (8, 7):
        assert wanted["ChallengeResponseAuthentication"] == "no"
    else:
        assert "ChallengeResponseAuthentication" not in wanted
    assert wanted["KbdInteractiveAuthentication"] == "no"


def test_challenge_response_override_from_8_7_is_written_under_its_real_name() -> None:
    wanted = settings(
        "rocky-9",
        Request(profile="minimal", overrides={"ChallengeResponseAuthentication": "no"}),
    )
    assert "ChallengeResponseAuthentication" not in wanted
    assert wanted["KbdInteractiveAuthentication"] == "no"
    before = settings(
        "centos-7", Request(profile="minimal", overrides={"ChallengeResponseAuthentication": "no"})
    )
    assert before["ChallengeResponseAuthentication"] == "no"


BUILD_OPTIONAL = [d.name for d in CATALOGUE.values() if d.build_optional]


@pytest.mark.parametrize("slug", SLUGS)
def test_build_optional_directives_follow_what_sshd_T_printed(slug: str) -> None:
    facts = load_facts(slug)
    wanted = settings(slug)
    for name in ("GSSAPIAuthentication", "KerberosAuthentication", "UsePAM"):
        assert name in BUILD_OPTIONAL
        assert (name in wanted) is (name.lower() in facts.effective)
        assert name in wanted  # every one of these builds has GSSAPI, Kerberos and PAM


@pytest.mark.parametrize("slug", SLUGS)
def test_a_build_without_gssapi_and_kerberos_gets_neither(slug: str) -> None:
    facts = load_facts(slug)
    effective = {
        k: v for k, v in facts.effective.items() if not k.startswith(("gssapi", "kerberos"))
    }
    host = dataclasses.replace(facts, effective=effective).capabilities
    wanted = desired_settings(Request(), host, CLIENT_ALGORITHMS)
    assert "GSSAPIAuthentication" not in wanted
    assert "KerberosAuthentication" not in wanted
    assert wanted["UsePAM"] == "yes"
    with pytest.raises(BadValue, match=r"^GSSAPIAuthentication: this host's sshd was built"):
        desired_settings(Request(overrides={"GSSAPIAuthentication": "no"}), host, CLIENT_ALGORITHMS)


def test_build_optional_override_only_where_sshd_prints_it() -> None:
    facts = load_facts("debian-12")
    request = Request(profile="minimal", overrides={"GSSAPIAuthentication": "no"})
    assert settings("debian-12", request)["GSSAPIAuthentication"] == "no"
    stripped = dataclasses.replace(
        facts, effective={k: v for k, v in facts.effective.items() if k != "gssapiauthentication"}
    )
    with pytest.raises(BadValue, match=r"^GSSAPIAuthentication: this host's sshd was built"):
        desired_settings(request, stripped.capabilities, CLIENT_ALGORITHMS)


# --- overrides the host's OpenSSH does not know ---------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "directive", "value", "message"),
    [
        ("ubuntu-20.04", "PubkeyAcceptedAlgorithms", "ssh-ed25519", "8.2 (added in OpenSSH 8.5)"),
        ("debian-11", "RequiredRSASize", "3072", "8.4 (added in OpenSSH 9.1)"),
        ("centos-7", "PubkeyAcceptedAlgorithms", "ssh-ed25519", "7.4 (added in OpenSSH 8.5)"),
        ("debian-12", "UseLogin", "no", "9.2 (removed in OpenSSH 7.4)"),
        ("debian-11", "UsePrivilegeSeparation", "sandbox", "8.4 (removed in OpenSSH 7.5)"),
        ("rocky-9", "Protocol", "2", "8.7 (removed in OpenSSH 7.6)"),
    ],
)
def test_override_unknown_to_the_hosts_version_names_directive_and_version(
    slug: str, directive: str, value: str, message: str
) -> None:
    with pytest.raises(BadValue) as err:
        settings(slug, Request(overrides={directive: value}))
    assert str(err.value) == (
        f"{directive}: not supported by the host's OpenSSH {message}; remove this override"
    )


@pytest.mark.parametrize(
    ("slug", "directive", "value", "written"),
    [
        ("debian-13", "RequiredRSASize", "03072", "3072"),
        ("debian-12", "RequiredRSASize", "3072", "3072"),
        ("centos-7", "DisableForwarding", "yes", "yes"),
        ("debian-12", "LoginGraceTime", "1m", "60"),
        ("debian-12", "PermitRootLogin", "without-password", "prohibit-password"),
        ("debian-12", "maxauthtries", "04", "4"),
    ],
)
def test_override_the_host_knows_is_normalized(
    slug: str, directive: str, value: str, written: str
) -> None:
    wanted = settings(slug, Request(overrides={directive: value}))
    name = lookup(directive)
    assert name is not None
    assert wanted[name.name] == written


# --- check_request -------------------------------------------------------------------------


def problems(overrides: dict[str, str], admin: str = "ops", profile: str = "baseline") -> list[str]:
    return [p.message for p in check_request(Request(profile, overrides, admin)).problems]


def test_a_good_request_has_no_problems() -> None:
    assert problems({}) == []
    assert problems({"MaxAuthTries": "4", "AllowUsers": "ops alice"}, profile="minimal") == []


def test_unknown_directive_with_did_you_mean() -> None:
    assert problems({"PasswordAuth": "no"}) == [
        "PasswordAuth: unknown sshd directive (did you mean PasswordAuthentication?); "
        "remove it or fix its spelling"
    ]
    assert problems({"Frobnicate": "yes"}) == [
        "Frobnicate: unknown sshd directive; remove it or fix its spelling"
    ]


@pytest.mark.parametrize(
    ("directive", "value", "expected"),
    [
        ("LoginGraceTime", "30x", "expected a time such as 30, 30s, 2m or 1h"),
        ("LoginGraceTime", "m", "expected a time such as 30, 30s, 2m or 1h"),
        ("LoginGraceTime", "2h", "expected at most 3600 seconds"),
        ("ClientAliveInterval", "-5", "expected a time such as 30, 30s, 2m or 1h"),
        ("MaxAuthTries", "0", "expected a whole number from 1 to 100"),
        ("MaxAuthTries", "101", "expected a whole number from 1 to 100"),
        ("MaxAuthTries", "three", "expected a whole number from 1 to 100"),
        ("MaxSessions", "2.5", "expected a whole number from 1 to 1000"),
        ("PasswordAuthentication", "maybe", "expected yes or no"),
        ("PasswordAuthentication", "true", "expected yes or no"),
        ("PermitRootLogin", "sometimes", "expected one of yes, no, prohibit-password"),
        ("MaxStartups", "10:30", "expected start:rate:full such as 10:30:60, or a number"),
        ("MaxStartups", "a:b:c", "expected start:rate:full such as 10:30:60, or a number"),
        ("MaxStartups", "60:30:10", "expected 0 < start <= full and 1 <= rate <= 100"),
        ("MaxStartups", "10:101:60", "expected 0 < start <= full and 1 <= rate <= 100"),
        ("Ciphers", "+aes128-cbc", "no +, - or ^ prefix"),
        ("Ciphers", "-aes128-cbc", "no +, - or ^ prefix"),
        ("KexAlgorithms", "^mlkem768x25519-sha256", "no +, - or ^ prefix"),
        ("MACs", "hmac-sha2-256,,hmac-sha2-512", "expected a comma-separated list"),
        ("HostKeyAlgorithms", "ssh-ed25519 rsa-sha2-512", "expected a comma-separated list"),
        ("AuthenticationMethods", "publickey,otp", "expected 'any' or comma-separated lists"),
        ("AuthenticationMethods", "pubkey", "expected 'any' or comma-separated lists"),
        ("LogLevel", "LOUD", "expected one of QUIET, FATAL"),
        ("Banner", "etc/issue", "expected an absolute path without spaces, or none"),
        ("AllowUsers", "ops;rm", "expected space-separated user or group patterns"),
    ],
)
def test_malformed_values_name_the_directive(directive: str, value: str, expected: str) -> None:
    found = problems({directive: value})
    assert len(found) == 1, found
    assert found[0].startswith(f"{directive}={value!r}: ")
    assert expected in found[0]


@pytest.mark.parametrize(
    ("directive", "value", "normalized"),
    [
        ("LoginGraceTime", "1h", "3600"),
        ("LoginGraceTime", "1m30s", "90"),
        ("ClientAliveInterval", "5M", "300"),
        ("MaxAuthTries", " 3 ", "3"),
        ("MaxStartups", "10:30:60", "10:30:60"),
        ("Ciphers", "aes256-gcm@openssh.com,aes128-ctr", "aes256-gcm@openssh.com,aes128-ctr"),
        ("AuthenticationMethods", "publickey,password  publickey", "publickey,password publickey"),
        ("PasswordAuthentication", "No", "no"),
        ("LogLevel", "verbose", "VERBOSE"),
        ("Compression", "delayed", "yes"),
        ("Banner", "/etc/issue.net", "/etc/issue.net"),
    ],
)
def test_well_formed_values_are_normalized(directive: str, value: str, normalized: str) -> None:
    assert problems({directive: value}) == []
    d = lookup(directive)
    assert d is not None
    assert d.normalize(value) == normalized


@pytest.mark.parametrize("value", ["10:0:60", "0"])
def test_max_startups_sshd_rejects_is_refused(value: str) -> None:
    assert problems({"MaxStartups": value}) != []


@pytest.mark.parametrize(
    "directive", ["Port", "ListenAddress", "Match", "Include", "Subsystem", "HostKey", "port"]
)
def test_host_owned_directives_are_refused(directive: str) -> None:
    assert problems({directive: "x"}) == [
        f"{directive}: is the host's own setting and is not managed by hardened-ecs "
        "(it is kept as it is); remove this override"
    ]


@pytest.mark.parametrize("profile", ["baseline", "minimal"])
def test_pubkey_authentication_no_is_refused(profile: str) -> None:
    found = problems({"PubkeyAuthentication": "no"}, profile=profile)
    assert found == [
        "PubkeyAuthentication=no: with passwords off nobody can log in with a key; "
        "keep PubkeyAuthentication=yes"
    ]
    with_passwords = problems(
        {"PubkeyAuthentication": "no", "PasswordAuthentication": "yes"}, profile=profile
    )
    assert with_passwords == [
        "PubkeyAuthentication=no: hardened-ecs logs in with a key; keep PubkeyAuthentication=yes"
    ]


@pytest.mark.parametrize(
    "methods",
    ["password", "keyboard-interactive", "publickey,password", "password keyboard-interactive"],
)
def test_authentication_methods_without_a_publickey_list_are_refused(methods: str) -> None:
    assert problems({"AuthenticationMethods": methods}) == [
        f"AuthenticationMethods={methods!r}: no list lets a key alone in, so hardened-ecs "
        "could not verify its own change; include 'publickey' as one of the lists"
    ]


@pytest.mark.parametrize("methods", ["publickey", "any", "publickey,password publickey"])
def test_authentication_methods_with_a_publickey_list_are_accepted(methods: str) -> None:
    assert problems({"AuthenticationMethods": methods}) == []


@pytest.mark.parametrize(
    ("overrides", "admin"),
    [
        ({"AllowUsers": "alice bob"}, "ops"),
        ({"AllowUsers": "!ops o*"}, "ops"),
        ({"AllowUsers": "op"}, "ops"),
        ({"allowusers": "deploy"}, "ops"),
        ({"DenyUsers": "ops"}, "ops"),
        ({"DenyUsers": "o?s"}, "ops"),
        ({"AllowUsers": "ops", "DenyUsers": "*"}, "ops"),
    ],
)
def test_access_lists_that_exclude_the_admin_are_refused(
    overrides: dict[str, str], admin: str
) -> None:
    found = problems(overrides, admin=admin)
    assert found == [
        f"AllowUsers/DenyUsers: the admin user {admin!r} would be refused; "
        f"add {admin} to AllowUsers (and keep it out of DenyUsers)"
    ]


@pytest.mark.parametrize(
    "allow", ["ops", "alice ops", "o*", "op?", "ops@10.0.0.0/8", "*", "deploy ops@203.0.113.5"]
)
def test_access_lists_that_include_the_admin_are_accepted(allow: str) -> None:
    assert problems({"AllowUsers": allow}) == []
    assert problems({"AllowUsers": allow, "DenyUsers": "root"}) == []


@pytest.mark.parametrize("admin", ["root", "Ops", "1ops", "ops user", "", "-ops", "o" * 33])
def test_unusable_admin_users_are_refused(admin: str) -> None:
    found = problems({}, admin=admin)
    assert len(found) == 1
    assert found[0].startswith(f"admin user {admin!r} is not usable")
    assert "--admin-user ops" in found[0]


@pytest.mark.parametrize("admin", ["ops", "_svc", "deploy-1", "a" * 32])
def test_usable_admin_users_are_accepted(admin: str) -> None:
    assert problems({}, admin=admin) == []


def test_unknown_profile() -> None:
    assert problems({}, profile="strict") == [
        "profile 'strict' is unknown: use one of baseline, minimal (e.g. --profile baseline)"
    ]


def test_all_problems_are_reported_together() -> None:
    request = Request("strict", {"Port": "2222", "MaxAuthTries": "0", "Bogus": "1"}, "root")
    found = [p.message for p in check_request(request).problems]
    assert [p.split(" ")[0] for p in found] == [
        "profile",
        "admin",
        "Port:",
        "MaxAuthTries='0':",
        "Bogus:",
    ]


# --- parse_set_flags --------------------------------------------------------------------------


def test_parse_set_flags() -> None:
    items = ["MaxAuthTries=3", " Banner = /etc/issue ", "AllowUsers=ops alice"]
    assert parse_set_items(items) == (
        {"MaxAuthTries": "3", "Banner": "/etc/issue", "AllowUsers": "ops alice"},
        [],
    )
    assert parse_set_items(["AuthorizedKeysFile=a=b"]) == ({"AuthorizedKeysFile": "a=b"}, [])


@pytest.mark.parametrize("item", ["MaxAuthTries", "=3", "MaxAuthTries=", "  =  "])
def test_parse_set_flags_refuses_malformed_items(item: str) -> None:
    overrides, problems = parse_set_items([item])
    assert overrides == {}
    assert re.search(r"expected Directive=value, e\.g\. --set MaxAuthTries=3", problems[0].message)
