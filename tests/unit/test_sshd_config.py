"""sshd_config text: parsing lines, the Include that covers our drop-in, glob order, the block."""

from __future__ import annotations

import pytest

from hardening.planning import sshd_config
from hardening.planning.sshd_config import (
    BEGIN,
    DROPIN_NAME,
    END,
    Line,
    covering_include,
    global_lines,
    included_in_order,
    keywords_before,
    parse_lines,
    render_dropin,
    render_settings,
    strip_block,
    validation_main,
    with_block,
)
from tests.facts import SLUGS, WITH_INCLUDE, WITHOUT_INCLUDE, load_facts

DROPIN_DIR = "/etc/ssh/sshd_config.d"
STAGED = "/etc/ssh/sshd_config.d/.00-hardened-ecs.conf.hardened-ecs-new"


# --- parse_lines / global_lines --------------------------------------------------------------


def test_parse_lines_skips_comments_and_blanks_and_lowercases_keywords() -> None:
    text = "# comment\n\n  PermitRootLogin  yes\n\t#PasswordAuthentication no\nUsePAM yes\n"
    assert parse_lines(text) == [Line(3, "permitrootlogin", "yes"), Line(5, "usepam", "yes")]


def test_parse_lines_accepts_equals_and_tabs_like_sshd() -> None:
    text = "MaxAuthTries=3\nSubsystem\tsftp\t/usr/lib/openssh/sftp-server\nLogLevel=VERBOSE\n"
    assert parse_lines(text) == [
        Line(1, "maxauthtries", "3"),
        Line(2, "subsystem", "sftp\t/usr/lib/openssh/sftp-server"),
        Line(3, "loglevel", "VERBOSE"),
    ]


@pytest.mark.parametrize(
    ("text", "keyword", "args"),
    [
        ("AuthenticationMethods\tpublickey password\n", "authenticationmethods",
         "publickey password"),
        ("AllowUsers\tops admin\n", "allowusers", "ops admin"),
        ("AuthorizedKeysFile\t.ssh/authorized_keys .ssh/authorized_keys2\n", "authorizedkeysfile",
         ".ssh/authorized_keys .ssh/authorized_keys2"),
    ],
)  # fmt: skip
def test_parse_lines_tab_then_space_separated_arguments(text: str, keyword: str, args: str) -> None:
    assert parse_lines(text) == [Line(1, keyword, args)]


def test_global_lines_stop_at_the_first_match() -> None:
    text = "UsePAM yes\nMatch User ops\n  PasswordAuthentication yes\nX11Forwarding no\n"
    assert [ln.keyword for ln in global_lines(text)] == ["usepam"]


@pytest.mark.parametrize("slug", SLUGS)
def test_main_files_parse_to_their_directives(slug: str) -> None:
    lines = global_lines(load_facts(slug).main_config)
    keywords = [ln.keyword for ln in lines]
    assert "subsystem" in keywords
    assert ("include" in keywords) is (slug in WITH_INCLUDE)
    if slug in WITH_INCLUDE:
        # The Include is the first directive: nothing in the main file precedes it.
        assert keywords[0] == "include"
        assert lines[0].args == "/etc/ssh/sshd_config.d/*.conf"


# --- covering_include / keywords_before / included_in_order ----------------------------------


@pytest.mark.parametrize("slug", WITH_INCLUDE)
def test_covering_include_on_the_distributions_with_one(slug: str) -> None:
    main = load_facts(slug).main_config
    line = covering_include(main, DROPIN_DIR)
    assert line is not None
    assert main.splitlines()[line.number - 1] == "Include /etc/ssh/sshd_config.d/*.conf"
    assert keywords_before(main, line.number) == set()


@pytest.mark.parametrize("slug", WITHOUT_INCLUDE)
def test_no_covering_include_without_one(slug: str) -> None:
    assert covering_include(load_facts(slug).main_config, DROPIN_DIR) is None


@pytest.mark.parametrize(
    ("include", "covers"),
    [
        ("Include /etc/ssh/sshd_config.d/*.conf", True),
        ("Include sshd_config.d/*.conf", True),  # relative to /etc/ssh, like sshd
        ("include /etc/ssh/sshd_config.d/0*.conf", True),
        ("Include /etc/other.conf /etc/ssh/sshd_config.d/*", True),
        ("Include /etc/ssh/sshd_config.d/*.config", False),
        ("Include /etc/ssh/sshd_config.d/50-*.conf", False),
        ("Include /etc/ssh/other.d/*.conf", False),
    ],
)
def test_covering_include_patterns(include: str, covers: bool) -> None:
    text = f"# head\n{include}\nUsePAM yes\n"
    line = covering_include(text, DROPIN_DIR)
    assert (line is not None) is covers
    if line is not None:
        assert line.number == 2


def test_covering_include_ignores_one_inside_match() -> None:
    text = "UsePAM yes\nMatch Address 10.0.0.0/8\n  Include /etc/ssh/sshd_config.d/*.conf\n"
    assert covering_include(text, DROPIN_DIR) is None


def test_keywords_before_only_counts_earlier_global_lines() -> None:
    text = "Port 2222\nPermitRootLogin yes\nInclude /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\n"
    assert keywords_before(text, 3) == {"port", "permitrootlogin"}
    assert keywords_before(text, 1) == set()


def test_included_in_order_sorts_like_glob_and_adds_ours() -> None:
    include = Line(1, "include", "/etc/ssh/sshd_config.d/*.conf")
    existing = ["60-cloudimg-settings.conf", "50-cloud-init.conf", "01-a.conf", "README", "Z.conf"]
    assert included_in_order(include, DROPIN_DIR, existing) == [
        "00-hardened-ecs.conf",
        "01-a.conf",
        "50-cloud-init.conf",
        "60-cloudimg-settings.conf",
        "Z.conf",
    ]
    assert included_in_order(include, DROPIN_DIR, ["00-aaa.conf"]) == [
        "00-aaa.conf",
        DROPIN_NAME,
    ]


# --- validation_main ------------------------------------------------------------------------


def test_validation_main_replaces_the_include_in_place() -> None:
    main = "# top\nInclude /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\nSubsystem sftp x\n"
    include = covering_include(main, DROPIN_DIR)
    assert include is not None
    out = validation_main(
        main, include, DROPIN_DIR, ["50-cloud-init.conf", "00-early.conf"], STAGED
    )
    assert out == (
        "# top\n"
        "Include /etc/ssh/sshd_config.d/00-early.conf\n"
        f"Include {STAGED}\n"
        "Include /etc/ssh/sshd_config.d/50-cloud-init.conf\n"
        "UsePAM yes\n"
        "Subsystem sftp x\n"
    )


@pytest.mark.parametrize("slug", WITH_INCLUDE)
def test_validation_main_on_each_distribution(slug: str) -> None:
    facts = load_facts(slug)
    include = covering_include(facts.main_config, DROPIN_DIR)
    assert include is not None
    out = validation_main(facts.main_config, include, DROPIN_DIR, facts.dropins, STAGED)
    before, _, after = facts.main_config.partition("Include /etc/ssh/sshd_config.d/*.conf\n")
    assert out.startswith(before)
    assert out.endswith(after)
    spelled = out[len(before) : len(out) - len(after)].splitlines()
    assert spelled[0] == f"Include {STAGED}"
    assert spelled[1:] == [f"Include {DROPIN_DIR}/{n}" for n in sorted(facts.dropins)]


# --- rendering, the managed block -----------------------------------------------------------


def test_render_settings_and_dropin() -> None:
    settings = {"PermitRootLogin": "no", "MaxAuthTries": "3"}
    assert render_settings(settings) == "PermitRootLogin no\nMaxAuthTries 3\n"
    dropin = render_dropin(settings)
    assert dropin.startswith("# Managed by hardened-ecs")
    assert dropin.endswith("PermitRootLogin no\nMaxAuthTries 3\n")
    assert [ln.keyword for ln in parse_lines(dropin)] == ["permitrootlogin", "maxauthtries"]


@pytest.mark.parametrize("slug", SLUGS)
def test_with_block_is_idempotent_and_strips_back_to_the_original(slug: str) -> None:
    main = load_facts(slug).main_config
    settings = {"PermitRootLogin": "no", "PasswordAuthentication": "no"}
    once = with_block(main, settings)
    assert with_block(once, settings) == once
    assert strip_block(once) == main
    assert strip_block(main) == main
    lines = once.splitlines()
    assert lines[0] == BEGIN
    end = lines.index(END)
    assert lines[end - 2 : end] == ["PermitRootLogin no", "PasswordAuthentication no"]
    # Our settings are the first directives sshd reads.
    assert [ln.keyword for ln in parse_lines(once)][:2] == [
        "permitrootlogin",
        "passwordauthentication",
    ]


def test_with_block_replaces_a_block_in_the_middle() -> None:
    main = f"Port 2222\n{BEGIN}\nMaxAuthTries 5\n{END}\nUsePAM yes\n"
    out = with_block(main, {"MaxAuthTries": "3"})
    assert out.count(BEGIN) == 1
    assert out.startswith(f"{BEGIN}\n")
    assert "MaxAuthTries 5" not in out
    assert out.endswith(f"{END}\nPort 2222\nUsePAM yes\n")


def test_strip_block_matches_marker_lines_even_indented() -> None:
    text = f"  {BEGIN}  \nX 1\n\t{END}\nUsePAM yes\n"
    assert strip_block(text) == "UsePAM yes\n"
    assert sshd_config.DROPIN_NAME == "00-hardened-ecs.conf"
