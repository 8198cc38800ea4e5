"""Faults 3, 4 and 5: a killed tool, a configuration that lets nobody in, an sshd that does not
come back: rolled back (issue 5).

See tests/helpers/fault_proofs.py for what is proven after each fault.
"""

from __future__ import annotations

import pytest

from tests.helpers.fault_proofs import (
    FaultCaseFactory,
    assert_old,
    converge,
    lock_gone,
    old_or_new,
    poll,
    snapshot,
)
from tests.testhosts.chroot import SSHClientError, TestHost, try_login

# --------------------------------------------------------------------------- 3, 4, 5: rollback


def test_03_tool_killed_right_after_the_reload_the_host_restores_itself(
    fault_case: FaultCaseFactory,
) -> None:
    host, key, cli = fault_case("trixie")  # the newest OpenSSH: sshd-session, reload by re-exec
    before = snapshot(host)
    run = cli.start("apply", confirm_timeout=10)
    run.wait_for("reloaded sshd")
    run.kill()
    # Killed before it could confirm: the transaction (and its watcher) is still there and the
    # complete new configuration is live.
    assert not lock_gone(host), "the apply confirmed before it was killed (should not happen)"
    assert old_or_new(host, before) == "new"
    assert not try_login(host.port, "root", key)
    # Within the confirm timeout the host puts everything back by itself.
    poll("the host's own rollback", lambda: lock_gone(host), timeout=10 + 30)
    assert "rolled back" not in "".join(run.lines)  # nobody told it to
    assert_old(host, before, key, admin_too=False)  # the admin user it made is harmless: kept
    converge(host, cli, key)


def test_04_configuration_that_lets_nobody_in_is_rolled_back(fault_case: FaultCaseFactory) -> None:
    host, key, cli = fault_case("bookworm")
    before = snapshot(host)
    # Passes `sshd -t`, but no key file exists there: the fresh verification login must fail.
    # The verification gives up before the confirm timeout, so the tool itself rolls back over
    # its original connection (the host's own watcher: test_03, test_05_..._watcher).
    out = cli.run("apply", "--set", "AuthorizedKeysFile=/etc/ssh/nobody", confirm_timeout=10)
    assert out.code == 4, out
    assert "failed the fresh-connection check" in out.stdout, out
    assert "the server refused the key for ops" in out.stdout, out
    assert "rolled back to the previous configuration" in out.stdout, out
    assert_old(host, before, key)  # the admin user it made is gone again too
    converge(host, cli, key)


_SSHD_WRAPPER = r"""#!/bin/bash
# Fault injection: started as a daemon while hardened-ecs's drop-in exists, sshd "crashes".
# Everything else (-t/-T, the per-connection re-exec -R, ...) runs the real sshd.
for a in "$@"; do
  case "$a" in -t|-T|-V|-R|-G|-i|-d|-D) exec -a "$0" /usr/sbin/sshd "$@" ;; esac
done
if [ -e /etc/ssh/sshd_config.d/00-hardened-ecs.conf ]; then
  logger -t sshd-wrap "fault injection: not starting" 2>/dev/null
  exit 1
fi
exec -a "$0" /usr/sbin/sshd "$@"
"""


def _listener_through_wrapper(host: TestHost) -> None:
    """Run the listener as /usr/sbin/sshd (so the init script still finds and signals it) but
    with argv[0] = the wrapper, which is what sshd re-executes on SIGHUP."""
    host.run(
        "cat > /usr/local/sbin/sshd-wrap && chmod 755 /usr/local/sbin/sshd-wrap",
        input=_SSHD_WRAPPER,
        check=True,
    )
    sockets, log_from = host.listen_sockets(), len(host.syslog())
    host.run("/etc/init.d/ssh stop && /usr/local/sbin/sshd-wrap", check=True)
    host.wait_listening(sockets, log_from)
    assert "sshd-wrap" in host.run(f"cat /proc/{host.listener_pid()}/cmdline").stdout


def test_05_sshd_that_does_not_come_back_is_restored_and_restarted_by_the_tool(
    fault_case: FaultCaseFactory,
) -> None:
    host, key, cli = fault_case("bookworm")
    _listener_through_wrapper(host)
    before = snapshot(host)
    pid = host.listener_pid()
    out = cli.run("apply", confirm_timeout=10)
    assert out.code == 4, out
    assert "lost the original connection" not in out.stderr, out  # it never was
    assert "Connection refused" in out.stdout, out
    assert "rolled back to the previous configuration" in out.stdout, out
    assert "fault injection: not starting" in host.syslog()
    assert host.listener_pid() != pid  # a new listener: restarted, not just reloaded
    assert_old(host, before, key)
    converge(host, cli, key)  # the restarted listener is the plain sshd again


def test_05_sshd_that_does_not_come_back_and_a_tool_that_died_the_watcher_restarts_it(
    fault_case: FaultCaseFactory,
) -> None:
    host, key, cli = fault_case("bookworm")
    _listener_through_wrapper(host)
    before = snapshot(host)
    run = cli.start("apply", confirm_timeout=10)
    run.wait_for("reloaded sshd")
    run.kill()  # nobody is left to roll back but the host itself
    with pytest.raises(SSHClientError):
        try_login(host.port, "root", key)  # nothing listens
    poll("the host's own rollback", lambda: lock_gone(host), timeout=10 + 30)
    poll("sshd listening again", lambda: bool(host.listen_sockets()), timeout=30)
    assert "fault injection: not starting" in host.syslog()
    assert_old(host, before, key, admin_too=False)  # the admin user it made is kept
    converge(host, cli, key)
