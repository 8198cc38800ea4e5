"""The per-distribution expectation files (tests/facts/SLUG/expect.yaml) and their loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.facts import EXPECTED, FACTS_DIR, SLUGS
from tests.facts.expect import EXPECT_FILE, ExpectError, load_expect


def test_every_facts_file_has_its_expectations_and_no_more() -> None:
    assert {p.stem for p in FACTS_DIR.glob("*.txt")} == set(SLUGS)
    assert len(SLUGS) == 9
    assert all((FACTS_DIR / slug / EXPECT_FILE).is_file() for slug in SLUGS)


def test_fields_load_as_their_types() -> None:
    rocky = EXPECTED["rocky-9"]
    assert rocky.version == (8, 7)
    assert rocky.os_version == "9.4"
    assert rocky.dropins == ("01-permitrootlogin.conf", "50-cloud-init.conf", "50-redhat.conf")
    assert EXPECTED["alinux-3"].dropins == ()
    assert EXPECTED["ubuntu-24.04"].socket_activated is True


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = (FACTS_DIR / "rocky-9" / EXPECT_FILE).read_text()
    assert old in text
    path = tmp_path / EXPECT_FILE
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('os_version: "9.4"', "os_version: 9.4", "os_version must be a quoted string, not 9.4"),
        ("version: [8, 7]", "version: [8]", r"version must be \[major, minor\], two integers"),
        ("recorded: false", "recorded: no-ish", "recorded must be true or false"),
        ('mode: "dropin"', 'mode: "drop-in"', "mode must be dropin or inplace, not 'drop-in'"),
        ('mode: "dropin"\n', "", r"missing: mode; unknown: -\)"),
        ('mode: "dropin"\n', 'mode: "dropin"\nmodes: "x"\n', r"missing: -; unknown: modes\)"),
    ],
)
def test_a_bad_file_names_itself_and_the_field(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(ExpectError, match=message) as raised:
        load_expect(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert str(raised.value).endswith("fix the file")
