"""The desired state: the settings chosen for each distribution's sshd (crypto, the
build-optional directives, overrides the host's OpenSSH does not know).
"""

from __future__ import annotations

import dataclasses

import pytest

from hardening.model.client import CLIENT_ALGORITHMS
from hardening.model.desired import (
    ALGORITHM_SINCE,
    CRYPTO,
    HostCapabilities,
    Request,
    desired_settings,
)
from hardening.model.directives import CATALOGUE, BadValue, lookup
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
MACS = "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com"
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
