"""Recorded and constructed `facts.sh` outputs for nine distributions, and what each must yield.

debian-11/12/13.txt are recorded (record_debian.py, a real chroot of the cached Debian roots);
the others are constructed from each distribution's defaults (assemble.py over the data in
constructed/; README.md) and say so in their first line. Tests load them through
`facts_text`/`load_facts` and compare with `EXPECTED`.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

from hardening.host.facts import HostFacts, parse_facts
from hardening.host.paths import DROPIN_DIR, MAIN_CONFIG
from hardening.model.desired import Request
from hardening.model.directives import Version
from hardening.planning import sshd_config
from hardening.planning.plan import DROPIN_PATH, SYSCONFIG_SSHD, Plan, make_plan
from hardening.ssh.transport import CLIENT_ALGORITHMS

FACTS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Expect:
    os_id: str
    os_version: str
    version: Version
    service: str  # ssh or sshd
    socket_activated: bool
    reload: str  # how the host reloads sshd (service_commands)
    restart: str
    crypto_policy_on_cmdline: bool  # RHEL 8 family: sshd started with -oCiphers=... etc.
    mode: str  # dropin or inplace
    recorded: bool
    dropins: tuple[str, ...]  # file names in sshd_config.d, glob order
    permit_root_login: str  # as `sshd -T` prints it before hardening


_SYSTEMD_SSH = ("systemctl reload ssh.service", "systemctl restart ssh.service")
# Under ssh.socket the socket owns the listener: restart the service, never SIGHUP it.
_SYSTEMD_SSH_SOCKET = ("systemctl try-restart ssh.service", "systemctl restart ssh.service")
_SYSTEMD_SSHD = ("systemctl reload sshd.service", "systemctl restart sshd.service")
_INITD_SSH = ("/etc/init.d/ssh reload", "/etc/init.d/ssh restart")
_UBUNTU_DROPINS = ("50-cloud-init.conf", "60-cloudimg-settings.conf")

EXPECTED: dict[str, Expect] = {
    "ubuntu-20.04": Expect(
        "ubuntu", "20.04", (8, 2), "ssh", False, *_SYSTEMD_SSH, False, "dropin", False,
        ("50-cloud-init.conf",), "without-password",
    ),
    "ubuntu-22.04": Expect(
        "ubuntu", "22.04", (8, 9), "ssh", False, *_SYSTEMD_SSH, False, "dropin", False,
        _UBUNTU_DROPINS, "without-password",
    ),
    "ubuntu-24.04": Expect(
        "ubuntu", "24.04", (9, 6), "ssh", True, *_SYSTEMD_SSH_SOCKET, False, "dropin", False,
        _UBUNTU_DROPINS, "without-password",
    ),
    "debian-11": Expect(
        "debian", "11", (8, 4), "ssh", False, *_INITD_SSH, False, "dropin", True,
        ("50-cloud-init.conf",), "without-password",
    ),
    "debian-12": Expect(
        "debian", "12", (9, 2), "ssh", False, *_INITD_SSH, False, "dropin", True,
        ("50-cloud-init.conf",), "without-password",
    ),
    "debian-13": Expect(
        "debian", "13", (10, 0), "ssh", False, *_INITD_SSH, False, "dropin", True,
        ("50-cloud-init.conf",), "without-password",
    ),
    "alinux-3": Expect(
        "alinux", "3", (8, 0), "sshd", False, *_SYSTEMD_SSHD, True, "inplace", False, (), "yes",
    ),
    "centos-7": Expect(
        "centos", "7", (7, 4), "sshd", False, *_SYSTEMD_SSHD, False, "inplace", False, (), "yes",
    ),
    "rocky-9": Expect(
        "rocky", "9.4", (8, 7), "sshd", False, *_SYSTEMD_SSHD, False, "dropin", False,
        ("01-permitrootlogin.conf", "50-cloud-init.conf", "50-redhat.conf"), "yes",
    ),
}  # fmt: skip

SLUGS = tuple(EXPECTED)
WITH_INCLUDE = tuple(s for s, e in EXPECTED.items() if e.mode == "dropin")
WITHOUT_INCLUDE = tuple(s for s, e in EXPECTED.items() if e.mode == "inplace")


def facts_path(slug: str) -> Path:
    return FACTS_DIR / f"{slug}.txt"


@functools.cache
def facts_text(slug: str) -> str:
    return facts_path(slug).read_text()


@functools.cache
def load_facts(slug: str) -> HostFacts:
    return parse_facts(facts_text(slug))


def plan_for(
    facts: HostFacts, request: Request | None = None, connected_user: str = "root"
) -> Plan:
    return make_plan(request or Request(), facts, CLIENT_ALGORITHMS, connected_user)


def applied(facts: HostFacts, plan: Plan) -> HostFacts:
    """The facts as they would read after the plan's files are in place and sshd reloaded or,
    when the plan says so, restarted (its command line then loses the -o options that came
    from the unit's environment). `effective` is left as it was."""
    main = facts.main_config
    dropins = dict(facts.dropins)
    sysconfig = facts.sysconfig_sshd
    cmdline = facts.listener_cmdline
    if plan.restart_needed:
        cmdline = " ".join(t for t in cmdline.split() if not t.startswith("-o")) + " "
    for change in plan.files:
        if change.path == MAIN_CONFIG:
            assert change.content is not None
            main = change.content
        elif change.path == DROPIN_PATH:
            if change.content is None:
                dropins.pop(sshd_config.DROPIN_NAME, None)
            else:
                dropins[sshd_config.DROPIN_NAME] = change.content
        elif change.path == SYSCONFIG_SSHD:
            sysconfig = change.content
        else:  # pragma: no cover - a plan only writes these two paths
            raise AssertionError(f"unexpected path in plan: {change.path} (not under {DROPIN_DIR})")
    return dataclasses.replace(
        facts,
        main_config=main,
        dropins=dropins,
        sysconfig_sshd=sysconfig,
        listener_cmdline=cmdline.strip(),
    )
