"""hardening.model.validation: every problem carries the stable key adapters map it by."""

from __future__ import annotations

from hardening.model.client import CLIENT_ALGORITHMS
from hardening.model.profiles import Request
from hardening.model.validation import (
    Problem,
    own_key_problems,
    passphrase_problems,
    target_problems,
    timing_problems,
    validate_request,
)


def keys(problems: list[Problem] | tuple[Problem, ...]) -> list[tuple[str, str]]:
    return [(p.key, p.code) for p in problems]


def test_target_problems_name_their_input() -> None:
    assert target_problems("web-1.example", 22, "root", "id", "SHA256:" + "A" * 43) == []
    assert keys(target_problems(None, 0, "", "", "MD5:x")) == [
        ("host", "missing"),
        ("port", "range"),
        ("user", "missing"),
        ("identity", "missing"),
        ("host_key_fingerprint", "invalid"),
    ]
    assert keys(target_problems("a b", True, "Root", "id")) == [
        ("host", "invalid"),
        ("port", "range"),  # a YAML `true` is no port
        ("user", "invalid"),
    ]


def test_timing_and_passphrase_problems() -> None:
    assert timing_problems(120, 300, 180, 10) == []
    found = timing_problems(5, -1, 10, 0)
    assert [p.key for p in found] == ["confirm_timeout", "wait", "command_timeout", "parallel"]
    assert found[0].message == "must be from 10 to 3600 seconds"
    assert passphrase_problems("NOT_SET_ANYWHERE", {}) == [
        Problem("passphrase_env", "that variable is not set", code="unset")
    ]


def test_request_problems_are_keyed_by_setting_and_canonical_directive() -> None:
    request = Request(
        "strict",
        {
            "maxauthtries": "0",
            "ListenAddress": "0.0.0.0",
            "Bogus": "1",
            "PubkeyAuthentication": "no",
        },
        "root",
    )
    checked = validate_request(request, CLIENT_ALGORITHMS)
    assert [p.key for p in checked.problems] == [
        "profile",
        "admin_user",
        "overrides.MaxAuthTries",
        "overrides.ListenAddress",
        "overrides.Bogus",
        "overrides.PubkeyAuthentication",
    ]
    assert all(p.fix and p.fix in p.message for p in checked.problems[:2])
    assert checked.normalized == {"PubkeyAuthentication": "no"}


def test_normalised_once_and_crypto_checked_against_the_client_given() -> None:
    checked = validate_request(Request(overrides={"x11forwarding": "NO"}))
    assert checked.problems == () and checked.normalized == {"X11Forwarding": "no"}
    lockout = validate_request(Request(overrides={"Ciphers": "aes128-ctr"}), {"Ciphers": ("x",)})
    assert [p.key for p in lockout.problems] == ["overrides.Ciphers"]
    assert lockout.problems[0].fix == "include one of: x"


def test_admin_refusal_is_keyed_by_the_list_that_refuses() -> None:
    def key_of(overrides: dict[str, str]) -> list[str]:
        return [p.key for p in validate_request(Request(overrides=overrides)).problems]

    assert key_of({"AllowUsers": "ops", "DenyUsers": "ops"}) == ["overrides.DenyUsers"]
    assert key_of({"DenyUsers": "o*"}) == ["overrides.DenyUsers"]
    assert key_of({"AllowUsers": "alice", "DenyUsers": "bob"}) == ["overrides.AllowUsers"]
    assert key_of({"AllowUsers": "ops alice", "DenyUsers": "bob"}) == []


def test_own_key_problems() -> None:
    found = own_key_problems({"PubkeyAcceptedAlgorithms": "ssh-ed25519"}, ("rsa-sha2-512",), 2048)
    assert [p.key for p in found] == ["overrides.PubkeyAcceptedAlgorithms"]
    found = own_key_problems({"RequiredRSASize": "4096"}, ("rsa-sha2-512",), 2048)
    assert [p.key for p in found] == ["overrides.RequiredRSASize"]
