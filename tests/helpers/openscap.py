"""The independent check: Debian's OpenSCAP + SCAP Security Guide on a test host's filesystem.

Debian packages no CIS content for Debian itself (ssg-debian 0.1.65 has Debian 10/11 without a
CIS profile), so the closest packaged CIS profile is used: CIS Level 1 Server for Ubuntu 22.04
(ssg-debderived), on a bookworm host whose release files read Ubuntu 22.04 during the scan.
OSCAP_PROBE_ROOT (offline scanning) cannot be used: 1.3.7's dpkginfo probe fails under it
("dpkginfo_init has failed"), openssh-server then reads as not installed and every sshd rule
passes. So oscap runs natively, chrooted into the host's own root, in a private mount
namespace that lends it this machine's /usr (same Debian release: oscap, its probes, the
content), /proc and /dev; nothing outside that namespace changes.
"""

from __future__ import annotations

import shlex
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

DS = Path("/usr/share/xml/scap/ssg/content/ssg-ubuntu2204-ds.xml")
PROFILE = "xccdf_org.ssgproject.content_profile_cis_level1_server"
RULE_PREFIX = "xccdf_org.ssgproject.content_rule_"
_XCCDF = "{http://checklists.nist.gov/xccdf/1.2}"

# The SSH rules of that profile -> the catalogue control that answers the same CIS item.
RULE_CONTROL = {
    "file_groupowner_sshd_config": "sshd-config-perms",
    "file_owner_sshd_config": "sshd-config-perms",
    "file_permissions_sshd_config": "sshd-config-perms",
    "file_permissions_sshd_private_key": "host-private-key-perms",
    "file_permissions_sshd_pub_key": "host-public-key-perms",
    "sshd_disable_empty_passwords": "permit-empty-passwords",
    "sshd_disable_rhosts": "ignore-rhosts",
    "sshd_disable_root_login": "permit-root-login",
    "sshd_do_not_permit_user_env": "permit-user-environment",
    "sshd_set_idle_timeout": "client-alive",
    "sshd_set_keepalive": "client-alive",
    "sshd_set_loglevel_info": "log-level-cis",
    "sshd_set_max_auth_tries": "max-auth-tries-cis",
    "sshd_set_max_sessions": "max-sessions",
    "sshd_use_approved_ciphers": "ciphers-cis",
    "sshd_use_approved_macs": "macs-cis",
}

_UBUNTU_2204 = (
    'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\n'
    'PRETTY_NAME="Ubuntu 22.04 LTS"\nVERSION_CODENAME=jammy\n'
)
_LSB = "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\nDISTRIB_CODENAME=jammy\n"


def available() -> str | None:
    """Why the scan cannot run here (None: it can)."""
    if not DS.is_file():
        return f"no {DS}: apt-get install openscap-scanner ssg-debderived"
    if subprocess.run(["sh", "-c", "command -v oscap unshare"], capture_output=True).returncode:
        return "no oscap/unshare: apt-get install openscap-scanner util-linux"
    return None


def ssh_rules() -> list[str]:
    """The profile's selected rules about SSH, as the content lists them."""
    root = ET.parse(DS).getroot()
    for profile in root.iter(f"{_XCCDF}Profile"):
        if profile.get("id") == PROFILE:
            return [
                s.get("idref", "").removeprefix(RULE_PREFIX)
                for s in profile.findall(f"{_XCCDF}select")
                if s.get("selected") == "true" and "ssh" in s.get("idref", "")
            ]
    raise LookupError(f"{PROFILE} not in {DS}")


def scan(host_root: Path, host_run: Callable[[str], object], work: Path) -> dict[str, str]:
    """oscap's result (pass, fail, notapplicable, error...) of each SSH rule on a host started in
    "copy" mode (its "/" a plain directory, `host_root`); `host_run(cmd)` runs a shell command
    inside the host as root."""
    host_run(
        "cp -a /etc/os-release /tmp/os-release.scan-saved 2>/dev/null; "
        "cp -a /etc/lsb-release /tmp/lsb-release.scan-saved 2>/dev/null; "
        f"rm -f /etc/os-release; printf %s {shlex.quote(_UBUNTU_2204)} > /etc/os-release; "
        f"printf %s {shlex.quote(_LSB)} > /etc/lsb-release"
    )
    results = work / "oscap-results.xml"
    try:
        rules = " ".join(f"--rule {RULE_PREFIX}{r}" for r in ssh_rules())
        root = shlex.quote(str(host_root))
        inner = (
            f"set -e; mount --bind /usr {root}/usr; mount --rbind /proc {root}/proc; "
            f"mount --rbind /dev {root}/dev; mkdir -p {root}/tmp/oscap; "
            f"chroot {root} oscap xccdf eval --profile {PROFILE} {rules} "
            f"--results /tmp/oscap/results.xml {DS} >/dev/null || [ $? -eq 2 ]"
        )
        proc = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", inner],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"oscap exit {proc.returncode}: {proc.stderr}")
        results.write_bytes((host_root / "tmp/oscap/results.xml").read_bytes())
    finally:
        host_run(
            "rm -rf /etc/os-release /etc/lsb-release /tmp/oscap; "
            "mv /tmp/os-release.scan-saved /etc/os-release 2>/dev/null; "
            "mv /tmp/lsb-release.scan-saved /etc/lsb-release 2>/dev/null; true"
        )
    out: dict[str, str] = {}
    for rr in ET.parse(results).getroot().iter(f"{_XCCDF}rule-result"):
        rule = rr.get("idref", "").removeprefix(RULE_PREFIX)
        result = rr.find(f"{_XCCDF}result")
        if rule in RULE_CONTROL and result is not None and result.text:
            out[rule] = result.text
    return out


def compare(scanner: dict[str, str], ours: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(rule, control, scanner's result, our status) of every SSH rule; ours counts a pass as
    pass and fail / not enforced as fail."""
    rows = []
    for rule, result in sorted(scanner.items()):
        control = RULE_CONTROL[rule]
        rows.append((rule, control, result, ours.get(control, "(none)")))
    return rows


def agrees(result: str, status: str) -> bool:
    return (result == "pass") == (status == "pass")
