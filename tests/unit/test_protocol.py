"""hardening/change/protocol.py: the one reader of txn.sh's replies, and the names the shell
gets."""

from __future__ import annotations

import base64
import subprocess

from hardening.change import protocol
from hardening.change.protocol import Exit, Marker, Mode, TxnState, call, parse

TOKEN = "0123456789abcdef"


def test_a_lock_with_a_step_and_the_staging_reads_as_its_three_parts() -> None:
    # The step's last line has no newline: its end marker follows on the same line.
    out = (
        "@locked\n@did user\nno newline"
        f"{Marker.THEN_EXIT}-{TOKEN} 0\n"
        "@@ candidate\nport 22\npermitrootlogin no\n"
    )
    reply = parse(out, "  warning\n", 0, TOKEN)
    assert reply.locked and reply.stderr == "warning"
    assert reply.then == protocol.StepExit("@did user\nno newline", 0)
    assert reply.rest == "@@ candidate\nport 22\npermitrootlogin no\n"
    assert reply.candidate == "port 22\npermitrootlogin no\n"
    assert reply.committed is None and reply.state is TxnState.UNKNOWN


def test_the_candidate_digest_comes_with_the_candidate_only() -> None:
    staged = parse("@digest sha256:ab12\n@@ candidate\nport 22\n", "", 0, TOKEN)
    assert staged.digest == "sha256:ab12" and staged.candidate == "port 22\n"
    # sshd -t refused it: no candidate, so no digest to confirm by
    assert parse("@digest sha256:ab12\n", "bad", 10, TOKEN).digest is None


def test_no_output_of_the_step_fakes_its_end_or_a_marker() -> None:
    out = (
        "@locked\n@then-exit 0\n@then-exit-ffffffffffffffff 0\necho @@ candidate\n x @committed 5\n"
    )
    reply = parse(out, "", 7, TOKEN)
    assert reply.then is None  # the step never ended: its shell died
    assert reply.rest == out.removeprefix("@locked\n")
    assert reply.candidate is None and reply.committed is None


def test_a_failed_step_under_the_lock_keeps_its_status() -> None:
    reply = parse(f"@locked\ndid-the-step\n{Marker.THEN_EXIT}-{TOKEN} 7\n", "", 7, TOKEN)
    assert reply.then == protocol.StepExit("did-the-step\n", 7)
    assert reply.candidate is None


def test_each_marker_reads_as_its_field() -> None:
    assert parse("@committed 1700000000\n", "", 0, TOKEN).committed == 1700000000
    assert parse("@committed soon\n", "", 0, TOKEN).committed is None
    assert parse("@confirmed\n", "", 0, TOKEN).confirmed
    assert parse("@rolled-back\n", "", 0, TOKEN).rolled_back
    assert parse("@state installed\n", "", 0, TOKEN).state is TxnState.INSTALLED
    assert parse("@state maybe\n", "", 0, TOKEN).state is TxnState.UNKNOWN
    assert parse("@resend\n", "", 0, TOKEN).resend
    assert parse("@unproven not the same\n", "", 0, TOKEN).unproven == "not the same"
    assert parse("@confirmed\n", "", 0, TOKEN).unproven is None
    assert not parse("x\n@locked\n", "", 0, TOKEN).resend


def test_only_txn_sh_own_exit_codes_are_named() -> None:
    assert parse("", "busy", 12, TOKEN).exit is Exit.BUSY
    assert [parse("", "", code, TOKEN).exit for code in (0, 1, 9, 15, 255)] == [None] * 5


def test_the_shell_sees_every_constant_and_every_header_value() -> None:
    header = protocol.Header(
        STATE="/var/lib/x",
        TOKEN=TOKEN,
        CHECK="/etc/ssh/check",
        CHECK_SPEC="user=ops,host=1.2.3.4,addr=1.2.3.4",
        RELOAD="systemctl reload ssh.service",
        RESTART="systemctl restart 'ssh.service'",
        WATCHER="setsid",
        CONFIRM_TIMEOUT=120,
        LEASE=120,
        NEW_SUFFIX=".new",
        OLD_SUFFIX=".old",
    )
    head = header.text(writes_watcher=True)
    probe = (
        'printf "%s|" "$EXIT_INVALID" "$EXIT_IO" "$MARK_CANDIDATE" "$MARK_THEN_EXIT" '
        '"$RESTART" "$CONFIRM_TIMEOUT"; printf "%s" "$WATCH_HEAD_B64"\n'
    )
    shown = subprocess.run(
        ["sh", "-s"], input=head + protocol.library() + probe, capture_output=True, text=True
    ).stdout
    *values, watch_head = shown.split("|")
    assert values == [
        "10",
        "14",
        "@@ candidate",
        "@then-exit",
        "systemctl restart 'ssh.service'",
        "120",
    ]
    assert base64.b64decode(watch_head).decode() == header.text()


def test_a_call_is_one_quoted_line_for_the_dispatcher() -> None:
    assert call(Mode.STAGE_DELETE, "/etc/ssh/a b.conf") == "txn stage_delete '/etc/ssh/a b.conf'\n"
    assert call(Mode.COMMIT) == "txn commit\n"
