"""The desired state: request validation (validate_request) and parsing the --set items."""

from __future__ import annotations

import re

import pytest

from hardening.model.directives import lookup
from hardening.model.profiles import Request
from hardening.model.validation import parse_set_items, validate_request


def problems(overrides: dict[str, str], admin: str = "ops", profile: str = "baseline") -> list[str]:
    return [p.message for p in validate_request(Request(profile, overrides, admin)).problems]


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
    "directive", ["ListenAddress", "Match", "Include", "Subsystem", "HostKey", "listenaddress"]
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


def test_a_directive_given_twice_in_other_spellings_is_refused() -> None:
    assert problems({"Port": "2222", "port": "2200"}) == [
        "Port: given twice ('2222', then '2200'); give it once"
    ]


def test_all_problems_are_reported_together() -> None:
    request = Request(
        "strict", {"ListenAddress": "0.0.0.0", "MaxAuthTries": "0", "Bogus": "1"}, "root"
    )
    found = [p.message for p in validate_request(request).problems]
    assert [p.split(" ")[0] for p in found] == [
        "profile",
        "admin",
        "ListenAddress:",
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
