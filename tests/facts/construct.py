"""Construct `facts.sh` output for distributions no host here can run (no root or cache needed).

    venv/bin/python -m tests.facts.construct

Ubuntu 20.04/22.04/24.04, Alibaba Cloud Linux 3, CentOS 7 and Rocky 9 cannot be recorded on
this machine, so their facts are CONSTRUCTED from what each distribution ships: its default
sshd_config (and drop-ins), os-release, the `sshd -T` dump of that OpenSSH version with those
defaults (key set and order of that version's dump_config, the distribution's patches such as
Red Hat's GSSAPI/Kerberos keys and Debian's IPQoS default), the `ssh -Q` lists of that version,
the host keys its key generator creates, and its systemd unit states. The output mirrors the
exact formatting of hardening/scripts/facts.sh (`render` reproduces the recorded Debian files
byte for byte from their sections), and each file starts with a comment line saying it is
constructed, not recorded. The Debian 11/12/13 files are recorded for real (record_debian.py).
"""

from __future__ import annotations

import base64
import sys
from dataclasses import dataclass, field
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent
CLIENT_ADDR = "198.51.100.7"  # TEST-NET-2: where the operator connects from

CONSTRUCTED = (
    "# constructed from the distribution's defaults, not recorded: {what}. "
    "Regenerate: python -m tests.facts.construct\n"
)


@dataclass(frozen=True)
class Distro:
    slug: str
    what: str
    os_release: str
    sshd_version: str
    sshd_T: str
    kex: list[str]
    cipher: list[str]
    mac: list[str]
    key_sig: list[str]  # empty: `ssh -Q key-sig` is not supported (prints nothing to stdout)
    main_config: str
    dropins: dict[str, str] = field(default_factory=dict)
    dropin_dir: bool = True
    host_keys: tuple[str, ...] = ("ecdsa", "ed25519", "rsa")
    service: str = ""
    listener_cmdline: str = ""  # /proc/PID/cmdline with NULs as spaces (no newline)
    sysconfig_sshd: str | None = None  # /etc/sysconfig/sshd (RHEL family)


def _b64_wrapped(text: str) -> str:
    """`base64 < file`: 76 columns, a trailing newline (nothing for an empty file)."""
    return base64.encodebytes(text.encode()).decode()


def render(header: str, sections: list[tuple[str, str]]) -> str:
    """The script's output: `sec NAME` prints a blank line, then `@@ NAME`, then the body."""
    return header + "".join(f"\n@@ {name}\n{body}" for name, body in sections)


def _lines(items: list[str]) -> str:
    return "".join(f"{i}\n" for i in items)


def sections(d: Distro) -> list[tuple[str, str]]:
    dropins = "".join(
        f"{base64.b64encode(name.encode()).decode()} {base64.b64encode(text.encode()).decode()}\n"
        for name, text in sorted(d.dropins.items())
    )
    return [
        ("uid", "0\n"),
        ("os-release", d.os_release),
        ("sshd-version", d.sshd_version),
        ("client-addr", f"{CLIENT_ADDR}\n"),
        ("sshd-T", d.sshd_T + "@rc=0\n"),
        ("ssh-Q-kex", _lines(d.kex)),
        ("ssh-Q-cipher", _lines(d.cipher)),
        ("ssh-Q-mac", _lines(d.mac)),
        ("ssh-Q-key-sig", _lines(d.key_sig)),
        ("main-config", _b64_wrapped(d.main_config)),
        ("dropins", dropins if d.dropin_dir else ""),
        ("host-keys", _lines([f"/etc/ssh/ssh_host_{t}_key" for t in sorted(d.host_keys)])),
        ("service", d.service),
        ("listener-cmdline", d.listener_cmdline),
        ("sysconfig-sshd", "" if d.sysconfig_sshd is None else _b64_wrapped(d.sysconfig_sshd)),
        ("banner", ""),
        ("lock", ""),
        ("admin", "exists no\n"),
        ("end", ""),
    ]


def build(d: Distro) -> str:
    return render(CONSTRUCTED.format(what=d.what), sections(d))


def _usage_version(version_line: str) -> str:
    """`sshd -V` before OpenSSH 9.2: an error, then usage() prints the version."""
    return (
        "unknown option -- V\n"
        f"{version_line}\n"
        "usage: sshd [-46DdeiqTt] [-C connection_spec] [-c host_cert_file]\n"
    )


def _units(**states: str) -> str:
    """`unit $u enabled=$(is-enabled) active=$(is-active)` for the four units the script asks
    about. A unit systemd does not know prints nothing for is-enabled (error on stderr)."""
    out = "manager systemd\n"
    for unit in ("ssh.service", "sshd.service", "ssh.socket", "sshd.socket"):
        enabled, _, active = states.get(unit.replace(".", "_"), " inactive").partition(" ")
        out += f"unit {unit} enabled={enabled} active={active}\n"
    return out


# --- ssh -Q lists by OpenSSH version --------------------------------------------------------

KEX_74 = [
    "diffie-hellman-group1-sha1",
    "diffie-hellman-group14-sha1",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group-exchange-sha1",
    "diffie-hellman-group-exchange-sha256",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
]
# Red Hat's 7.4 GSSAPI key exchange patch lists its methods in `ssh -Q kex` too.
KEX_74_RHEL7 = [*KEX_74, "gss-gex-sha1-", "gss-group1-sha1-", "gss-group14-sha1-"]
KEX_80 = [*KEX_74, "sntrup4591761x25519-sha512@tinyssh.org"]  # 8.0 .. 8.4
KEX_85 = [*KEX_74, "sntrup761x25519-sha512@openssh.com"]  # 8.5 .. 9.8

CIPHER_74 = [
    "3des-cbc",
    "blowfish-cbc",
    "cast128-cbc",
    "arcfour",
    "arcfour128",
    "arcfour256",
    "aes128-cbc",
    "aes192-cbc",
    "aes256-cbc",
    "rijndael-cbc@lysator.liu.se",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
]
CIPHER_80 = [  # 7.6 dropped arcfour, blowfish and cast128
    "3des-cbc",
    "aes128-cbc",
    "aes192-cbc",
    "aes256-cbc",
    "rijndael-cbc@lysator.liu.se",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
]
CIPHER_87 = [c for c in CIPHER_80 if c != "rijndael-cbc@lysator.liu.se"]

MAC_80 = [
    "hmac-sha1",
    "hmac-sha1-96",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-md5",
    "hmac-md5-96",
    "umac-64@openssh.com",
    "umac-128@openssh.com",
    "hmac-sha1-etm@openssh.com",
    "hmac-sha1-96-etm@openssh.com",
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-md5-etm@openssh.com",
    "hmac-md5-96-etm@openssh.com",
    "umac-64-etm@openssh.com",
    "umac-128-etm@openssh.com",
]
MAC_74 = [  # RIPEMD-160 went in 7.6
    *MAC_80[:6],
    "hmac-ripemd160",
    "hmac-ripemd160@openssh.com",
    *MAC_80[6:14],
    "hmac-ripemd160-etm@openssh.com",
    *MAC_80[14:],
]

KEYSIG_80 = [
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-rsa",
    "rsa-sha2-256",
    "rsa-sha2-512",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "ssh-dss-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
]
KEYSIG_82 = [  # 8.2 added the FIDO (sk-) types
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ssh-rsa",
    "rsa-sha2-256",
    "rsa-sha2-512",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "ssh-dss-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
]
KEYSIG_87 = [  # 8.5 reordered the key type table (ed25519 first) and added webauthn
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
    "ssh-dss-cert-v01@openssh.com",
    "ssh-rsa",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-512-cert-v01@openssh.com",
]

# --- default algorithm lists `sshd -T` prints (compiled-in defaults per version) -------------

PK_74 = (
    "ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,"
    "ecdsa-sha2-nistp521-cert-v01@openssh.com,ssh-ed25519-cert-v01@openssh.com,"
    "ssh-rsa-cert-v01@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
    "ssh-ed25519,rsa-sha2-512,rsa-sha2-256,ssh-rsa"
)
PK_80 = (
    "ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,"
    "ecdsa-sha2-nistp521-cert-v01@openssh.com,ssh-ed25519-cert-v01@openssh.com,"
    "rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,"
    "ssh-rsa-cert-v01@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
    "ssh-ed25519,rsa-sha2-512,rsa-sha2-256,ssh-rsa"
)
PK_82 = (
    "ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,"
    "ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,"
    "ssh-ed25519-cert-v01@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com,"
    "rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,"
    "ssh-rsa-cert-v01@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
    "sk-ecdsa-sha2-nistp256@openssh.com,ssh-ed25519,sk-ssh-ed25519@openssh.com,rsa-sha2-512,"
    "rsa-sha2-256,ssh-rsa"
)
PK_88 = (  # 8.8 dropped ssh-rsa (SHA-1) from the defaults
    "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,"
    "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,"
    "sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,"
    "rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,"
    "ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,"
    "sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256"
)
CASIG_80 = (
    "ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,ssh-ed25519,rsa-sha2-512,"
    "rsa-sha2-256,ssh-rsa"
)
CASIG_82 = (
    "ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
    "sk-ecdsa-sha2-nistp256@openssh.com,ssh-ed25519,sk-ssh-ed25519@openssh.com,rsa-sha2-512,"
    "rsa-sha2-256"
)
CASIG_88 = (
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
    "sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256"
)
CIPHERS_DEFAULT = (
    "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,"
    "aes256-gcm@openssh.com"
)
MACS_DEFAULT = (
    "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
    "hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,"
    "umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1"
)
KEX_DEFAULT_74 = (  # 7.4 .. 8.1 (group14-sha1 still in the server default)
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
    "ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
    "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,diffie-hellman-group14-sha1"
)
KEX_DEFAULT_82 = KEX_DEFAULT_74.removesuffix(",diffie-hellman-group14-sha1")  # 8.2 .. 8.9
KEX_DEFAULT_90 = "sntrup761x25519-sha512@openssh.com," + KEX_DEFAULT_82  # 9.0 .. 9.8
GSSKEX_DEBIAN = (
    "gss-group14-sha256-,gss-group16-sha512-,gss-nistp256-sha256-,gss-curve25519-sha256-,"
    "gss-group14-sha1-,gss-gex-sha1-"
)
_RHEL_ACCEPTENV = (
    "LANG", "LC_CTYPE", "LC_NUMERIC", "LC_TIME", "LC_COLLATE", "LC_MONETARY", "LC_MESSAGES",
    "LC_PAPER", "LC_NAME", "LC_ADDRESS", "LC_TELEPHONE", "LC_MEASUREMENT", "LC_IDENTIFICATION",
    "LC_ALL", "LANGUAGE", "XMODIFIERS",
)  # fmt: skip
ACCEPTENV_RHEL = "".join(f"acceptenv {v}\n" for v in _RHEL_ACCEPTENV)
HOSTKEYS = (
    "hostkey /etc/ssh/ssh_host_rsa_key\n"
    "hostkey /etc/ssh/ssh_host_ecdsa_key\n"
    "hostkey /etc/ssh/ssh_host_ed25519_key\n"
)
LISTEN = "port 22\naddressfamily any\nlistenaddress [::]:22\nlistenaddress 0.0.0.0:22\n"
STRINGS_TAIL = (
    "banner none\n"
    "forcecommand none\n"
    "chrootdirectory none\n"
    "trustedusercakeys none\n"
    "revokedkeys none\n"
)
COMMANDS = (
    "authorizedprincipalsfile none\n"
    "versionaddendum none\n"
    "authorizedkeyscommand none\n"
    "authorizedkeyscommanduser none\n"
    "authorizedprincipalscommand none\n"
    "authorizedprincipalscommanduser none\n"
    "hostkeyagent none\n"
)

# --- Debian-family sshd_config texts -----------------------------------------------------------

_UBUNTU_HEAD_2018 = """\
#	$OpenBSD: sshd_config,v 1.103 2018/04/09 20:41:22 tj Exp $

# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

# This sshd was compiled with PATH=/usr/bin:/bin:/usr/sbin:/sbin

# The strategy used for options in the default sshd_config shipped with
# OpenSSH is to specify options with their default value where
# possible, but leave them commented.  Uncommented options override the
# default value.

Include /etc/ssh/sshd_config.d/*.conf

"""

_DEBIAN_LISTEN_KEYS_AUTH = """\
#Port 22
#AddressFamily any
#ListenAddress 0.0.0.0
#ListenAddress ::

#HostKey /etc/ssh/ssh_host_rsa_key
#HostKey /etc/ssh/ssh_host_ecdsa_key
#HostKey /etc/ssh/ssh_host_ed25519_key

# Ciphers and keying
#RekeyLimit default none

# Logging
#SyslogFacility AUTH
#LogLevel INFO

# Authentication:

#LoginGraceTime 2m
#PermitRootLogin prohibit-password
#StrictModes yes
#MaxAuthTries 6
#MaxSessions 10

#PubkeyAuthentication yes

# Expect .ssh/authorized_keys2 to be disregarded by default in future.
#AuthorizedKeysFile	.ssh/authorized_keys .ssh/authorized_keys2

#AuthorizedPrincipalsFile none

#AuthorizedKeysCommand none
#AuthorizedKeysCommandUser nobody

# For this to work you will also need host keys in /etc/ssh/ssh_known_hosts
#HostbasedAuthentication no
# Change to yes if you don't trust ~/.ssh/known_hosts for
# HostbasedAuthentication
#IgnoreUserKnownHosts no
# Don't read the user's ~/.rhosts and ~/.shosts files
#IgnoreRhosts yes

"""

_DEBIAN_KERBEROS_GSSAPI = """\
# Kerberos options
#KerberosAuthentication no
#KerberosOrLocalPasswd yes
#KerberosTicketCleanup yes
#KerberosGetAFSToken no

# GSSAPI options
#GSSAPIAuthentication no
#GSSAPICleanupCredentials yes
#GSSAPIStrictAcceptorCheck yes
#GSSAPIKeyExchange no

"""


def _debian_pam(word: str, prohibit: str) -> str:
    return f"""\
# Set this to 'yes' to enable PAM authentication, account processing,
# and session processing. If this is enabled, PAM authentication will
# be allowed through the {word} and
# PasswordAuthentication.  Depending on your PAM configuration,
# PAM authentication via {word} may bypass
# the setting of "PermitRootLogin {prohibit}".
# If you just want the PAM account and session checks to run without
# PAM authentication, then enable this but set PasswordAuthentication
# and {word} to 'no'.
UsePAM yes

"""


def _debian_tail(pidfile: str, acceptenv_comment: str, acceptenv: str) -> str:
    return f"""\
#AllowAgentForwarding yes
#AllowTcpForwarding yes
#GatewayPorts no
X11Forwarding yes
#X11DisplayOffset 10
#X11UseLocalhost yes
#PermitTTY yes
PrintMotd no
#PrintLastLog yes
#TCPKeepAlive yes
#PermitUserEnvironment no
#Compression delayed
#ClientAliveInterval 0
#ClientAliveCountMax 3
#UseDNS no
#PidFile {pidfile}
#MaxStartups 10:30:100
#PermitTunnel no
#ChrootDirectory none
#VersionAddendum none

# no default banner path
#Banner none

# {acceptenv_comment}
AcceptEnv {acceptenv}

# override default of no subsystems
Subsystem	sftp	/usr/lib/openssh/sftp-server

# Example of overriding settings on a per-user basis
#Match User anoncvs
#	X11Forwarding no
#	AllowTcpForwarding no
#	PermitTTY no
#	ForceCommand cvs server
"""


UBUNTU_2004_CONFIG = (
    _UBUNTU_HEAD_2018
    + _DEBIAN_LISTEN_KEYS_AUTH
    + """\
# To disable tunneled clear text passwords, change to no here!
#PasswordAuthentication yes
#PermitEmptyPasswords no

# Change to yes to enable challenge-response passwords (beware issues with
# some PAM modules and threads)
ChallengeResponseAuthentication no

"""
    + _DEBIAN_KERBEROS_GSSAPI
    + _debian_pam("ChallengeResponseAuthentication", "without-password")
    + _debian_tail(
        "/var/run/sshd.pid", "Allow client to pass locale environment variables", "LANG LC_*"
    )
)

UBUNTU_2204_CONFIG = (
    _UBUNTU_HEAD_2018
    + _DEBIAN_LISTEN_KEYS_AUTH
    + """\
# To disable tunneled clear text passwords, change to no here!
#PasswordAuthentication yes
#PermitEmptyPasswords no

# Change to yes to enable challenge-response passwords (beware issues with
# some PAM modules and threads)
KbdInteractiveAuthentication no

"""
    + _DEBIAN_KERBEROS_GSSAPI
    + _debian_pam("KbdInteractiveAuthentication", "without-password")
    + _debian_tail(
        "/var/run/sshd.pid", "Allow client to pass locale environment variables", "LANG LC_*"
    )
)

UBUNTU_2404_CONFIG = (
    """\

# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

# This sshd was compiled with PATH=/usr/local/bin:/usr/bin:/bin:/usr/games

# The strategy used for options in the default sshd_config shipped with
# OpenSSH is to specify options with their default value where
# possible, but leave them commented.  Uncommented options override the
# default value.

Include /etc/ssh/sshd_config.d/*.conf

# When systemd socket activation is used (the default), the socket
# configuration must be re-generated after changing Port, AddressFamily, or
# ListenAddress.
#
# For changes to take effect, run:
#
#   systemctl daemon-reload
#   systemctl restart ssh.socket
#
"""
    + _DEBIAN_LISTEN_KEYS_AUTH
    + """\
# To disable tunneled clear text passwords, change to "no" here!
#PasswordAuthentication yes
#PermitEmptyPasswords no

# Change to "yes" to enable keyboard-interactive authentication.  Depending on
# the system's configuration, this may involve passwords, challenge-response,
# one-time passwords or some combination of these and other methods.
# Beware issues with some PAM modules and threads.
KbdInteractiveAuthentication no

"""
    + _DEBIAN_KERBEROS_GSSAPI
    + _debian_pam("KbdInteractiveAuthentication", "prohibit-password")
    + _debian_tail(
        "/run/sshd.pid",
        "Allow client to pass locale and color environment variables",
        "LANG LC_* COLORTERM NO_COLOR",
    )
)

CLOUD_INIT = "PasswordAuthentication yes\n"
# Ubuntu cloud images (livecd-rootfs) ship this; it sorts after cloud-init's and so loses.
CLOUDIMG = "PasswordAuthentication no\n"

# --- Red Hat family sshd_config texts ----------------------------------------------------------

_RHEL_AUTH_COMMON = """\
#PubkeyAuthentication yes

# The default is to check both .ssh/authorized_keys and .ssh/authorized_keys2
# but this is overridden so installations will only check .ssh/authorized_keys
AuthorizedKeysFile	.ssh/authorized_keys

#AuthorizedPrincipalsFile none

#AuthorizedKeysCommand none
#AuthorizedKeysCommandUser nobody

# For this to work you will also need host keys in /etc/ssh/ssh_known_hosts
#HostbasedAuthentication no
# Change to yes if you don't trust ~/.ssh/known_hosts for
# HostbasedAuthentication
#IgnoreUserKnownHosts no
# Don't read the user's ~/.rhosts and ~/.shosts files
#IgnoreRhosts yes

"""

_RHEL_SELINUX_PORT = """\
# If you want to change the port on a SELinux system, you have to tell
# SELinux about this change.
# semanage port -a -t ssh_port_t -p tcp #PORTNUMBER
#
#Port 22
#AddressFamily any
#ListenAddress 0.0.0.0
#ListenAddress ::

"""

_RHEL_ACCEPTENV_TAIL = """\
# no default banner path
#Banner none

# Accept locale-related environment variables
AcceptEnv LANG LC_CTYPE LC_NUMERIC LC_TIME LC_COLLATE LC_MONETARY LC_MESSAGES
AcceptEnv LC_PAPER LC_NAME LC_ADDRESS LC_TELEPHONE LC_MEASUREMENT
AcceptEnv LC_IDENTIFICATION LC_ALL LANGUAGE
AcceptEnv XMODIFIERS

# override default of no subsystems
Subsystem	sftp	/usr/libexec/openssh/sftp-server

# Example of overriding settings on a per-user basis
#Match User anoncvs
#	X11Forwarding no
#	AllowTcpForwarding no
#	PermitTTY no
#	ForceCommand cvs server
"""


def _rhel_pam(warning: str) -> str:
    return f"""\
# Set this to 'yes' to enable PAM authentication, account processing,
# and session processing. If this is enabled, PAM authentication will
# be allowed through the ChallengeResponseAuthentication and
# PasswordAuthentication.  Depending on your PAM configuration,
# PAM authentication via ChallengeResponseAuthentication may bypass
# the setting of "PermitRootLogin without-password".
# If you just want the PAM account and session checks to run without
# PAM authentication, then enable this but set PasswordAuthentication
# and ChallengeResponseAuthentication to 'no'.
# WARNING: 'UsePAM no' is not supported in {warning} and may cause several
# problems.
UsePAM yes

"""


_RHEL_PASSWORD_KERBEROS_GSSAPI = """\
# To disable tunneled clear text passwords, change to no here!
#PasswordAuthentication yes
#PermitEmptyPasswords no
PasswordAuthentication yes

# Change to no to disable s/key passwords
#ChallengeResponseAuthentication yes
ChallengeResponseAuthentication no

# Kerberos options
#KerberosAuthentication no
#KerberosOrLocalPasswd yes
#KerberosTicketCleanup yes
#KerberosGetAFSToken no
#KerberosUseKuserok yes

# GSSAPI options
GSSAPIAuthentication yes
GSSAPICleanupCredentials no
#GSSAPIStrictAcceptorCheck yes
#GSSAPIKeyExchange no
#GSSAPIEnablek5users no

"""

CENTOS7_CONFIG = (
    """\
#	$OpenBSD: sshd_config,v 1.100 2016/08/15 12:32:04 naddy Exp $

# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

# This sshd was compiled with PATH=/usr/local/bin:/usr/bin

# The strategy used for options in the default sshd_config shipped with
# OpenSSH is to specify options with their default value where
# possible, but leave them commented.  Uncommented options override the
# default value.

"""
    + _RHEL_SELINUX_PORT
    + """\
HostKey /etc/ssh/ssh_host_rsa_key
#HostKey /etc/ssh/ssh_host_dsa_key
HostKey /etc/ssh/ssh_host_ecdsa_key
HostKey /etc/ssh/ssh_host_ed25519_key

# Ciphers and keying
#RekeyLimit default none

# Logging
#SyslogFacility AUTH
SyslogFacility AUTHPRIV
#LogLevel INFO

# Authentication:

#LoginGraceTime 2m
#PermitRootLogin yes
#StrictModes yes
#MaxAuthTries 6
#MaxSessions 10

"""
    + _RHEL_AUTH_COMMON
    + _RHEL_PASSWORD_KERBEROS_GSSAPI
    + _rhel_pam("Red Hat Enterprise Linux")
    + """\
#AllowAgentForwarding yes
#AllowTcpForwarding yes
#GatewayPorts no
X11Forwarding yes
#X11DisplayOffset 10
#X11UseLocalhost yes
#PermitTTY yes
#PrintMotd yes
#PrintLastLog yes
#TCPKeepAlive yes
#UseLogin no
#UsePrivilegeSeparation sandbox
#PermitUserEnvironment no
#Compression delayed
#ClientAliveInterval 0
#ClientAliveCountMax 3
#ShowPatchLevel no
#UseDNS yes
#PidFile /var/run/sshd.pid
#MaxStartups 10:30:100
#PermitTunnel no
#ChrootDirectory none
#VersionAddendum none

"""
    + _RHEL_ACCEPTENV_TAIL
)

# RHEL 8 (and so Alibaba Cloud Linux 3) has no Include: crypto policy does not reach sshd
# through a configuration keyword but through the unit: sshd.service reads
# EnvironmentFile=-/etc/crypto-policies/back-ends/opensshserver.config (and
# /etc/sysconfig/sshd) and starts `sshd -D $OPTIONS $CRYPTO_POLICY`, i.e. -oCiphers=... on the
# command line. The facts script's `sshd -T` has no such options, so its ciphers/MACs/kex are
# the compiled-in defaults; the listener's command line (listener-cmdline) shows the policy.
ALINUX3_CONFIG = (
    """\
#	$OpenBSD: sshd_config,v 1.103 2018/04/09 20:41:22 tj Exp $

# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

# This sshd was compiled with PATH=/usr/local/bin:/usr/bin:/usr/local/sbin:/usr/sbin

# The strategy used for options in the default sshd_config shipped with
# OpenSSH is to specify options with their default value where
# possible, but leave them commented.  Uncommented options override the
# default value.

"""
    + _RHEL_SELINUX_PORT
    + """\
HostKey /etc/ssh/ssh_host_rsa_key
HostKey /etc/ssh/ssh_host_ecdsa_key
HostKey /etc/ssh/ssh_host_ed25519_key

# Ciphers and keying
#RekeyLimit default none

# System-wide Crypto policy:
# This system is following system-wide crypto policy. The changes to
# Ciphers, MACs, KexAlgoritms and GSSAPIKexAlgorithsm will not have any
# effect here. They will be overridden by command-line options passed on
# the server start up.
# To opt out, uncomment a line with redefinition of  CRYPTO_POLICY=
# variable in  /etc/sysconfig/sshd  to overwrite the policy.
# For more information, see manual page for update-crypto-policies(8).

# Logging
#SyslogFacility AUTH
SyslogFacility AUTHPRIV
#LogLevel INFO

# Authentication:

#LoginGraceTime 2m
PermitRootLogin yes
#StrictModes yes
#MaxAuthTries 6
#MaxSessions 10

"""
    + _RHEL_AUTH_COMMON
    + _RHEL_PASSWORD_KERBEROS_GSSAPI
    + _rhel_pam("Fedora")
    + """\
#AllowAgentForwarding yes
#AllowTcpForwarding yes
#GatewayPorts no
X11Forwarding yes
#X11DisplayOffset 10
#X11UseLocalhost yes
#PermitTTY yes
#PrintMotd yes
#PrintLastLog yes
#TCPKeepAlive yes
#PermitUserEnvironment no
#Compression delayed
#ClientAliveInterval 0
#ClientAliveCountMax 3
#UseDNS no
#PidFile /var/run/sshd.pid
#MaxStartups 10:30:100
#PermitTunnel no
#ChrootDirectory none
#VersionAddendum none

"""
    + _RHEL_ACCEPTENV_TAIL
)

ROCKY9_CONFIG = """\
#	$OpenBSD: sshd_config,v 1.104 2021/07/02 05:11:21 dtucker Exp $

# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

# This sshd was compiled with PATH=/usr/local/bin:/usr/bin:/usr/local/sbin:/usr/sbin

# The strategy used for options in the default sshd_config shipped with
# OpenSSH is to specify options with their default value where
# possible, but leave them commented.  Uncommented options override the
# default value.

# To modify the system-wide sshd configuration, create a  *.conf  file under
#  /etc/ssh/sshd_config.d/  which will be automatically included below
Include /etc/ssh/sshd_config.d/*.conf

# If you want to change the port on a SELinux system, you have to tell
# SELinux about this change.
# semanage port -a -t ssh_port_t -p tcp #PORTNUMBER
#
#Port 22
#AddressFamily any
#ListenAddress 0.0.0.0
#ListenAddress ::

#HostKey /etc/ssh/ssh_host_rsa_key
#HostKey /etc/ssh/ssh_host_ecdsa_key
#HostKey /etc/ssh/ssh_host_ed25519_key

# Ciphers and keying
#RekeyLimit default none

# Logging
#SyslogFacility AUTH
#LogLevel INFO

# Authentication:

#LoginGraceTime 2m
#PermitRootLogin prohibit-password
#StrictModes yes
#MaxAuthTries 6
#MaxSessions 10

#PubkeyAuthentication yes

# The default is to check both .ssh/authorized_keys and .ssh/authorized_keys2
# but this is overridden so installations will only check .ssh/authorized_keys
AuthorizedKeysFile	.ssh/authorized_keys

#AuthorizedPrincipalsFile none

#AuthorizedKeysCommand none
#AuthorizedKeysCommandUser nobody

# For this to work you will also need host keys in /etc/ssh/ssh_known_hosts
#HostbasedAuthentication no
# Change to yes if you don't trust ~/.ssh/known_hosts for
# HostbasedAuthentication
#IgnoreUserKnownHosts no
# Don't read the user's ~/.rhosts and ~/.shosts files
#IgnoreRhosts yes

# To disable tunneled clear text passwords, change to no here!
#PasswordAuthentication yes
#PermitEmptyPasswords no

# Change to no to disable s/key passwords
#KbdInteractiveAuthentication yes

# Kerberos options
#KerberosAuthentication no
#KerberosOrLocalPasswd yes
#KerberosTicketCleanup yes
#KerberosGetAFSToken no
#KerberosUseKuserok yes

# GSSAPI options
#GSSAPIAuthentication no
#GSSAPICleanupCredentials yes
#GSSAPIStrictAcceptorCheck yes
#GSSAPIKeyExchange no
#GSSAPIEnablek5users no

# Set this to 'yes' to enable PAM authentication, account processing,
# and session processing. If this is enabled, PAM authentication will
# be allowed through the KbdInteractiveAuthentication and
# PasswordAuthentication.  Depending on your PAM configuration,
# PAM authentication via KbdInteractiveAuthentication may bypass
# the setting of "PermitRootLogin without-password".
# If you just want the PAM account and session checks to run without
# PAM authentication, then enable this but set PasswordAuthentication
# and KbdInteractiveAuthentication to 'no'.
# WARNING: 'UsePAM no' is not supported in RHEL and may cause several
# problems.
#UsePAM no

#AllowAgentForwarding yes
#AllowTcpForwarding yes
#GatewayPorts no
#X11Forwarding no
#X11DisplayOffset 10
#X11UseLocalhost yes
#PermitTTY yes
#PrintMotd yes
#PrintLastLog yes
#TCPKeepAlive yes
#PermitUserEnvironment no
#Compression delayed
#ClientAliveInterval 0
#ClientAliveCountMax 3
#UseDNS no
#PidFile /var/run/sshd.pid
#MaxStartups 10:30:100
#PermitTunnel no
#ChrootDirectory none
#VersionAddendum none

# no default banner path
#Banner none

# override default of no subsystems
Subsystem	sftp	/usr/libexec/openssh/sftp-server

# Example of overriding settings on a per-user basis
#Match User anoncvs
#	X11Forwarding no
#	AllowTcpForwarding no
#	PermitTTY no
#	ForceCommand cvs server
"""

ROCKY9_REDHAT_DROPIN = """\
# This system is following system-wide crypto policy. The changes to
# crypto properties (Ciphers, MACs, ...) will not have any effect in
# this or following included files. To override some configuration option,
# write it before this block or in a drop-in file with a lower number
# (sorted alphanumerically).
Include /etc/crypto-policies/back-ends/opensshserver.config

SyslogFacility AUTHPRIV

ChallengeResponseAuthentication no

GSSAPIAuthentication yes
GSSAPICleanupCredentials no

UsePAM yes

X11Forwarding yes

# It is recommended to use pam_motd in /etc/pam.d/sshd instead of PrintMotd,
# as it is more configurable and versatile than the built-in version.
PrintMotd no
"""

# Anaconda writes this when root may log in with a password (the usual cloud image choice).
ROCKY9_PERMITROOT_DROPIN = """\
# This file has been generated by the Anaconda Installer.
# Allow root to log in using ssh. Remove this file to opt-out.
PermitRootLogin yes
"""

# RHEL 9 DEFAULT crypto policy (opensshserver.config), read through 50-redhat.conf's Include.
RHEL9_POLICY_PK = (
    "ecdsa-sha2-nistp256,ecdsa-sha2-nistp256-cert-v01@openssh.com,"
    "sk-ecdsa-sha2-nistp256@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,"
    "ecdsa-sha2-nistp384,ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521,"
    "ecdsa-sha2-nistp521-cert-v01@openssh.com,ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,"
    "sk-ssh-ed25519@openssh.com,sk-ssh-ed25519-cert-v01@openssh.com,rsa-sha2-256,"
    "rsa-sha2-256-cert-v01@openssh.com,rsa-sha2-512,rsa-sha2-512-cert-v01@openssh.com"
)

# RHEL 8 DEFAULT policy, /etc/crypto-policies/back-ends/opensshserver.config (CRYPTO_POLICY=...),
# as sshd.service passes it: ExecStart=/usr/sbin/sshd -D $OPTIONS $CRYPTO_POLICY.
RHEL8_POLICY_PK = (
    "ecdsa-sha2-nistp256,ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384,"
    "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521,"
    "ecdsa-sha2-nistp521-cert-v01@openssh.com,ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,"
    "rsa-sha2-256,rsa-sha2-256-cert-v01@openssh.com,rsa-sha2-512,"
    "rsa-sha2-512-cert-v01@openssh.com,ssh-rsa,ssh-rsa-cert-v01@openssh.com"
)
RHEL8_CRYPTO_POLICY = (
    "-oCiphers=aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-ctr,aes256-cbc,"
    "aes128-gcm@openssh.com,aes128-ctr,aes128-cbc "
    "-oMACs=hmac-sha2-256-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-128-etm@openssh.com,"
    "hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha1,umac-128@openssh.com,hmac-sha2-512 "
    "-oGSSAPIKexAlgorithms=gss-curve25519-sha256-,gss-nistp256-sha256-,gss-group14-sha256-,"
    "gss-group16-sha512-,gss-gex-sha1-,gss-group14-sha1- "
    "-oKexAlgorithms=curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
    "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,"
    "diffie-hellman-group14-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
    "diffie-hellman-group-exchange-sha1,diffie-hellman-group14-sha1 "
    f"-oHostKeyAlgorithms={RHEL8_POLICY_PK} "
    f"-oPubkeyAcceptedKeyTypes={RHEL8_POLICY_PK} "
    "-oCASignatureAlgorithms=ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
    "ssh-ed25519,rsa-sha2-256,rsa-sha2-512,ssh-rsa"
)

SYSCONFIG_RHEL7 = """\
# Configuration file for the sshd service.

# The server keys are automatically generated if they are missing.
# To change the automatic creation uncomment and change the appropriate
# line. Accepted key types are: DSA RSA ECDSA ED25519.
# The default is "RSA ECDSA ED25519"

# AUTOCREATE_SERVER_KEYS=""
# AUTOCREATE_SERVER_KEYS="RSA ECDSA ED25519"

# Do not change this option unless you have hardware random
# generator and you REALLY know what you are doing

SSH_USE_STRONG_RNG=0
# SSH_USE_STRONG_RNG=1
"""

SYSCONFIG_RHEL8 = """\
# Configuration file for the sshd service.

# The server keys are automatically generated if they are missing.
# To change the automatic creation, adjust sshd.service options for
# example using  systemctl enable sshd-keygen@dsa.service  to allow creation
# of DSA key or  systemctl mask sshd-keygen@rsa.service  to disable RSA key
# creation.

# Do not change this option unless you have hardware random
# generator and you REALLY know what you are doing

SSH_USE_STRONG_RNG=0
# SSH_USE_STRONG_RNG=1

# System-wide crypto policy:
# To opt-out, uncomment the following line
# CRYPTO_POLICY=
"""

SYSCONFIG_RHEL9 = """\
# Configuration file for the sshd service.

# The server keys are automatically generated if they are missing.
# To change the automatic creation, adjust sshd.service options for
# example using  systemctl enable sshd-keygen@dsa.service  to allow creation
# of DSA key or  systemctl mask sshd-keygen@rsa.service  to disable RSA key
# creation.

# System-wide crypto policy:
# To opt-out, uncomment the following line
# CRYPTO_POLICY=
"""

# From 8.2 the listener retitles itself (setproctitle overwrites /proc/PID/cmdline).
LISTENER_TITLE = "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups "

# --- sshd -T dumps -------------------------------------------------------------------------------


def _debian_family_T(
    *,
    version: tuple[int, int],
    kex: str,
    pk: str,
    casig: str,
    acceptenv: list[str],
) -> str:
    """`sshd -T` of Ubuntu's OpenSSH with its default configuration plus 50-cloud-init.conf."""
    new_names = version >= (8, 5)
    out = LISTEN + "usepam yes\nlogingracetime 120\nx11displayoffset 10\nmaxauthtries 6\n"
    out += "maxsessions 10\nclientaliveinterval 0\nclientalivecountmax 3\n"
    if version >= (9, 1):
        out += "requiredrsasize 1024\n"
    out += "streamlocalbindmask 0177\n"
    if version >= (9, 2):
        out += "unusedconnectiontimeout none\n"
    out += (
        "permitrootlogin without-password\n"
        "ignorerhosts yes\n"
        "ignoreuserknownhosts no\n"
        "hostbasedauthentication no\n"
        "hostbasedusesnamefrompacketonly no\n"
        "pubkeyauthentication yes\n"
        "kerberosauthentication no\n"
        "kerberosorlocalpasswd yes\n"
        "kerberosticketcleanup yes\n"
        "gssapiauthentication no\n"
        "gssapicleanupcredentials yes\n"
        "gssapikeyexchange no\n"
        "gssapistrictacceptorcheck yes\n"
        "gssapistorecredentialsonrekey no\n"
        f"gssapikexalgorithms {GSSKEX_DEBIAN}\n"
        "passwordauthentication yes\n"
        "kbdinteractiveauthentication no\n"
    )
    if version < (8, 7):  # from 8.7 an alias, no longer printed
        out += "challengeresponseauthentication no\n"
    out += (
        "printmotd no\n"
        "printlastlog yes\n"
        "x11forwarding yes\n"
        "x11uselocalhost yes\n"
        "permittty yes\n"
        "permituserrc yes\n"
        "strictmodes yes\n"
        "tcpkeepalive yes\n"
        "permitemptypasswords no\n"
        "compression yes\n"
        "gatewayports no\n"
        "usedns no\n"
        "allowtcpforwarding yes\n"
        "allowagentforwarding yes\n"
        "disableforwarding no\n"
        "allowstreamlocalforwarding yes\n"
        "streamlocalbindunlink no\n"
        "fingerprinthash SHA256\n"
        "exposeauthinfo no\n"
        "pidfile /run/sshd.pid\n"
    )
    if version >= (9, 0):
        out += "modulifile /etc/ssh/moduli\n"
    out += (
        "xauthlocation /usr/bin/xauth\n"
        f"ciphers {CIPHERS_DEFAULT}\n"
        f"macs {MACS_DEFAULT}\n"
        + STRINGS_TAIL
        + "securitykeyprovider internal\n"
        + COMMANDS
        + f"kexalgorithms {kex}\n"
        f"casignaturealgorithms {casig}\n"
    )
    hb, pka = (
        ("hostbasedacceptedalgorithms", "pubkeyacceptedalgorithms")
        if new_names
        else ("hostbasedacceptedkeytypes", "pubkeyacceptedkeytypes")
    )
    out += f"{hb} {pk}\nhostkeyalgorithms {pk}\n{pka} {pk}\n"
    out += "loglevel INFO\nsyslogfacility AUTH\n"
    out += "authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2\n" + HOSTKEYS
    out += "".join(f"acceptenv {v}\n" for v in acceptenv)
    out += "authenticationmethods any\n"
    if version >= (9, 3):
        out += "channeltimeout none\n"
    out += "subsystem sftp /usr/lib/openssh/sftp-server\nmaxstartups 10:30:100\n"
    if new_names:
        out += "persourcemaxstartups none\npersourcenetblocksize 32:128\n"
    out += (
        "permittunnel no\n"
        "ipqos lowdelay throughput\n"  # Debian/Ubuntu keep the pre-7.8 IPQoS default
        "rekeylimit 0 0\n"
        "permitopen any\n"
        "permitlisten any\n"
        "permituserenvironment no\n"
        "pubkeyauthoptions none\n"
    )
    return out


UBUNTU_2004_T = _debian_family_T(
    version=(8, 2), kex=KEX_DEFAULT_82, pk=PK_82, casig=CASIG_82, acceptenv=["LANG", "LC_*"]
)
UBUNTU_2204_T = _debian_family_T(
    version=(8, 9), kex=KEX_DEFAULT_82, pk=PK_88, casig=CASIG_88, acceptenv=["LANG", "LC_*"]
)
UBUNTU_2404_T = _debian_family_T(
    version=(9, 6),
    kex=KEX_DEFAULT_90,
    pk=PK_88,
    casig=CASIG_88,
    acceptenv=["LANG", "LC_*", "COLORTERM", "NO_COLOR"],
)

CENTOS7_T = (
    LISTEN + "usepam yes\nlogingracetime 120\nx11displayoffset 10\nmaxauthtries 6\nmaxsessions 10\n"
    "clientaliveinterval 0\nclientalivecountmax 3\nstreamlocalbindmask 0177\n"
    "permitrootlogin yes\n"  # Red Hat keeps `yes` as the compiled-in default on RHEL 7
    "ignorerhosts yes\n"
    "ignoreuserknownhosts no\n"
    "hostbasedauthentication no\n"
    "hostbasedusesnamefrompacketonly no\n"
    "pubkeyauthentication yes\n"
    "kerberosauthentication no\n"
    "kerberosorlocalpasswd yes\n"
    "kerberosticketcleanup yes\n"
    "kerberosusekuserok yes\n"
    "gssapiauthentication yes\n"
    "gssapicleanupcredentials no\n"
    "gssapikeyexchange no\n"
    "gssapistrictacceptorcheck yes\n"
    "gssapistorecredentialsonrekey no\n"
    "gssapienablek5users no\n"
    "passwordauthentication yes\n"
    "kbdinteractiveauthentication no\n"
    "challengeresponseauthentication no\n"
    "printmotd yes\n"
    "printlastlog yes\n"
    "x11forwarding yes\n"
    "x11uselocalhost yes\n"
    "permittty yes\n"
    "permituserrc yes\n"
    "strictmodes yes\n"
    "tcpkeepalive yes\n"
    "permitemptypasswords no\n"
    "permituserenvironment no\n"
    "compression yes\n"
    "gatewayports no\n"
    "showpatchlevel no\n"
    "usedns yes\n"  # RHEL 7 keeps UseDNS yes
    "allowtcpforwarding yes\n"
    "allowagentforwarding yes\n"
    "disableforwarding no\n"
    "allowstreamlocalforwarding yes\n"
    "streamlocalbindunlink no\n"
    "useprivilegeseparation sandbox\n"
    "fingerprinthash SHA256\n"
    "pidfile /var/run/sshd.pid\n"
    "xauthlocation /usr/bin/xauth\n"
    f"ciphers {CIPHERS_DEFAULT}\n"
    f"macs {MACS_DEFAULT}\n" + STRINGS_TAIL + COMMANDS + f"kexalgorithms {KEX_DEFAULT_74}\n"
    f"hostbasedacceptedkeytypes {PK_74}\n"
    f"hostkeyalgorithms {PK_74}\n"
    f"pubkeyacceptedkeytypes {PK_74}\n"
    "loglevel INFO\n"
    "syslogfacility AUTHPRIV\n"
    "authorizedkeysfile .ssh/authorized_keys\n"
    + HOSTKEYS
    + ACCEPTENV_RHEL
    + "authenticationmethods any\n"
    "subsystem sftp /usr/libexec/openssh/sftp-server\n"
    "maxstartups 10:30:100\n"
    "permittunnel no\n"
    "ipqos lowdelay throughput\n"
    "rekeylimit 0 0\n"
    "permitopen any\n"
)

_RHEL_GSSAPI_KERBEROS_8 = (
    "kerberosauthentication no\n"
    "kerberosorlocalpasswd yes\n"
    "kerberosticketcleanup yes\n"
    "kerberosusekuserok yes\n"
    "gssapiauthentication yes\n"
    "gssapicleanupcredentials no\n"
    "gssapikeyexchange no\n"
    "gssapistrictacceptorcheck yes\n"
    "gssapistorecredentialsonrekey no\n"
    "gssapienablek5users no\n"
)

ALINUX3_T = (
    LISTEN + "usepam yes\nlogingracetime 120\nx11displayoffset 10\nmaxauthtries 6\nmaxsessions 10\n"
    "clientaliveinterval 0\nclientalivecountmax 3\nstreamlocalbindmask 0177\n"
    "permitrootlogin yes\n"
    "ignorerhosts yes\n"
    "ignoreuserknownhosts no\n"
    "hostbasedauthentication no\n"
    "hostbasedusesnamefrompacketonly no\n"
    "pubkeyauthentication yes\n"
    + _RHEL_GSSAPI_KERBEROS_8
    + "gssapikexalgorithms gss-gex-sha1-,gss-group14-sha1-\n"
    "passwordauthentication yes\n"
    "kbdinteractiveauthentication no\n"
    "challengeresponseauthentication no\n"
    "printmotd yes\n"
    "printlastlog yes\n"
    "x11forwarding yes\n"
    "x11uselocalhost yes\n"
    "permittty yes\n"
    "permituserrc yes\n"
    "strictmodes yes\n"
    "tcpkeepalive yes\n"
    "permitemptypasswords no\n"
    "compression yes\n"
    "gatewayports no\n"
    "usedns no\n"
    "allowtcpforwarding yes\n"
    "allowagentforwarding yes\n"
    "disableforwarding no\n"
    "allowstreamlocalforwarding yes\n"
    "streamlocalbindunlink no\n"
    "fingerprinthash SHA256\n"
    "exposeauthinfo no\n"
    "pidfile /var/run/sshd.pid\n"
    "xauthlocation /usr/bin/xauth\n"
    f"ciphers {CIPHERS_DEFAULT}\n"
    f"macs {MACS_DEFAULT}\n" + STRINGS_TAIL + COMMANDS + f"kexalgorithms {KEX_DEFAULT_74}\n"
    f"casignaturealgorithms {CASIG_80}\n"
    f"hostbasedacceptedkeytypes {PK_80}\n"
    f"hostkeyalgorithms {PK_80}\n"
    f"pubkeyacceptedkeytypes {PK_80}\n"
    "loglevel INFO\n"
    "syslogfacility AUTHPRIV\n"
    "authorizedkeysfile .ssh/authorized_keys\n"
    + HOSTKEYS
    + ACCEPTENV_RHEL
    + "authenticationmethods any\n"
    "subsystem sftp /usr/libexec/openssh/sftp-server\n"
    "maxstartups 10:30:100\n"
    "permittunnel no\n"
    "ipqos af21 cs1\n"
    "rekeylimit 0 0\n"
    "permitopen any\n"
    "permitlisten any\n"
    "permituserenvironment no\n"
)

ROCKY9_T = (
    LISTEN + "usepam yes\nlogingracetime 120\nx11displayoffset 10\nmaxauthtries 6\nmaxsessions 10\n"
    "clientaliveinterval 0\nclientalivecountmax 3\n"
    "requiredrsasize 2048\n"  # RHEL 9.2+ backport, set by the DEFAULT crypto policy
    "streamlocalbindmask 0177\n"
    "permitrootlogin yes\n"  # 01-permitrootlogin.conf
    "ignorerhosts yes\n"
    "ignoreuserknownhosts no\n"
    "hostbasedauthentication no\n"
    "hostbasedusesnamefrompacketonly no\n"
    "pubkeyauthentication yes\n"
    + _RHEL_GSSAPI_KERBEROS_8
    + "gssapikexalgorithms gss-curve25519-sha256-,gss-nistp256-sha256-,gss-group14-sha256-,"
    "gss-group16-sha512-\n"
    "passwordauthentication yes\n"  # 50-cloud-init.conf
    "kbdinteractiveauthentication no\n"  # 50-redhat.conf: ChallengeResponseAuthentication no
    "printmotd no\n"
    "printlastlog yes\n"
    "x11forwarding yes\n"
    "x11uselocalhost yes\n"
    "permittty yes\n"
    "permituserrc yes\n"
    "strictmodes yes\n"
    "tcpkeepalive yes\n"
    "permitemptypasswords no\n"
    "compression yes\n"
    "gatewayports no\n"
    "usedns no\n"
    "allowtcpforwarding yes\n"
    "allowagentforwarding yes\n"
    "disableforwarding no\n"
    "allowstreamlocalforwarding yes\n"
    "streamlocalbindunlink no\n"
    "fingerprinthash SHA256\n"
    "exposeauthinfo no\n"
    "pidfile /var/run/sshd.pid\n"
    "xauthlocation /usr/bin/xauth\n"
    "ciphers aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-ctr,"
    "aes128-gcm@openssh.com,aes128-ctr\n"
    "macs hmac-sha2-256-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-128-etm@openssh.com,"
    "hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha1,umac-128@openssh.com,hmac-sha2-512\n"
    + STRINGS_TAIL
    + "securitykeyprovider internal\n"
    + COMMANDS
    + "kexalgorithms curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
    "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,"
    "diffie-hellman-group14-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512\n"
    "casignaturealgorithms ecdsa-sha2-nistp256,sk-ecdsa-sha2-nistp256@openssh.com,"
    "ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,ssh-ed25519,sk-ssh-ed25519@openssh.com,"
    "rsa-sha2-256,rsa-sha2-512\n"
    f"hostbasedacceptedalgorithms {PK_88}\n"
    f"hostkeyalgorithms {RHEL9_POLICY_PK}\n"
    f"pubkeyacceptedalgorithms {RHEL9_POLICY_PK}\n"
    "loglevel INFO\n"
    "syslogfacility AUTHPRIV\n"
    "authorizedkeysfile .ssh/authorized_keys\n" + HOSTKEYS + "authenticationmethods any\n"
    "subsystem sftp /usr/libexec/openssh/sftp-server\n"
    "maxstartups 10:30:100\n"
    "persourcemaxstartups none\n"
    "persourcenetblocksize 32:128\n"
    "permittunnel no\n"
    "ipqos af21 cs1\n"
    "rekeylimit 0 0\n"
    "permitopen any\n"
    "permitlisten any\n"
    "permituserenvironment no\n"
    "pubkeyauthoptions none\n"
)

# --- the six constructed distributions --------------------------------------------------------

_UBUNTU_OS = """\
NAME="Ubuntu"
VERSION="{version} ({code_title})"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu {version}"
VERSION_ID="{version_id}"
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
VERSION_CODENAME={code}
UBUNTU_CODENAME={code}
"""

DISTROS = [
    Distro(
        slug="ubuntu-20.04",
        what=(
            "Ubuntu 20.04 cloud image, openssh-server 1:8.2p1-4ubuntu0.11, systemd ssh.service, "
            "cloud-init's 50-cloud-init.conf allowing passwords"
        ),
        os_release=_UBUNTU_OS.format(
            version="20.04.6 LTS",
            code_title="Focal Fossa",
            version_id="20.04",
            code="focal",
        ),
        sshd_version=_usage_version(
            "OpenSSH_8.2p1 Ubuntu-4ubuntu0.11, OpenSSL 1.1.1f  31 Mar 2020"
        ),
        sshd_T=UBUNTU_2004_T,
        kex=KEX_80,
        cipher=CIPHER_80,
        mac=MAC_80,
        key_sig=KEYSIG_82,
        main_config=UBUNTU_2004_CONFIG,
        dropins={"50-cloud-init.conf": CLOUD_INIT},
        service=_units(
            ssh_service="enabled active",
            sshd_service="alias active",
            ssh_socket="disabled inactive",
        )
        + "initscript ssh\npidfile /run/sshd.pid 812\n",
        listener_cmdline=LISTENER_TITLE,
    ),
    Distro(
        slug="ubuntu-22.04",
        what=(
            "Ubuntu 22.04 cloud image, openssh-server 1:8.9p1-3ubuntu0.10, systemd ssh.service "
            "(ssh.socket shipped but disabled), 50-cloud-init.conf and 60-cloudimg-settings.conf"
        ),
        os_release=_UBUNTU_OS.format(
            version="22.04.5 LTS",
            code_title="Jammy Jellyfish",
            version_id="22.04",
            code="jammy",
        ),
        sshd_version=_usage_version("OpenSSH_8.9p1 Ubuntu-3ubuntu0.10, OpenSSL 3.0.2 15 Mar 2022"),
        sshd_T=UBUNTU_2204_T,
        kex=KEX_85,
        cipher=CIPHER_87,
        mac=MAC_80,
        key_sig=KEYSIG_87,
        main_config=UBUNTU_2204_CONFIG,
        dropins={"50-cloud-init.conf": CLOUD_INIT, "60-cloudimg-settings.conf": CLOUDIMG},
        service=_units(
            ssh_service="enabled active",
            sshd_service="alias active",
            ssh_socket="disabled inactive",
        )
        + "initscript ssh\npidfile /run/sshd.pid 905\n",
        listener_cmdline=LISTENER_TITLE,
    ),
    Distro(
        slug="ubuntu-24.04",
        what=(
            "Ubuntu 24.04 cloud image, openssh-server 1:9.6p1-3ubuntu13.5, systemd socket "
            "activation (ssh.socket enabled and active, ssh.service disabled but running), "
            "50-cloud-init.conf and 60-cloudimg-settings.conf"
        ),
        os_release=_UBUNTU_OS.format(
            version="24.04.1 LTS",
            code_title="Noble Numbat",
            version_id="24.04",
            code="noble",
        ).replace("UBUNTU_CODENAME=noble\n", "UBUNTU_CODENAME=noble\nLOGO=ubuntu-logo\n"),
        sshd_version="OpenSSH_9.6p1 Ubuntu-3ubuntu13.5, OpenSSL 3.0.13 30 Jan 2024\n",
        sshd_T=UBUNTU_2404_T,
        kex=KEX_85,
        cipher=CIPHER_87,
        mac=MAC_80,
        key_sig=KEYSIG_87,
        main_config=UBUNTU_2404_CONFIG,
        dropins={"50-cloud-init.conf": CLOUD_INIT, "60-cloudimg-settings.conf": CLOUDIMG},
        service=_units(
            ssh_service="disabled active",
            ssh_socket="enabled active",
        )
        + "initscript ssh\npidfile /run/sshd.pid 1187\n",
        listener_cmdline=LISTENER_TITLE,
    ),
    Distro(
        slug="alinux-3",
        what=(
            "Alibaba Cloud Linux 3 (RHEL 8 based), openssh-server 8.0p1, no Include in "
            "sshd_config (which sets PermitRootLogin and PasswordAuthentication itself), "
            "systemd sshd.service; crypto policy reaches sshd on its command line "
            "($CRYPTO_POLICY from the unit's EnvironmentFile), not as a keyword, so `sshd -T` "
            "shows compiled-in algorithm defaults"
        ),
        os_release="""\
NAME="Alibaba Cloud Linux"
VERSION="3 (OpenAnolis Edition)"
ID="alinux"
ID_LIKE="rhel fedora centos anolis"
VERSION_ID="3"
UPDATE_ID="9"
PLATFORM_ID="platform:al8"
PRETTY_NAME="Alibaba Cloud Linux 3.2104 U9 (OpenAnolis Edition)"
ANSI_COLOR="0;31"
HOME_URL="https://www.aliyun.com/"
""",
        sshd_version=_usage_version("OpenSSH_8.0p1, OpenSSL 1.1.1k  FIPS 25 Mar 2021"),
        sshd_T=ALINUX3_T,
        kex=KEX_80,
        cipher=CIPHER_80,
        mac=MAC_80,
        key_sig=KEYSIG_80,
        main_config=ALINUX3_CONFIG,
        dropin_dir=False,
        service=_units(sshd_service="enabled active", sshd_socket="disabled inactive")
        + "pidfile /run/sshd.pid 1043\n",
        listener_cmdline=f"/usr/sbin/sshd -D {RHEL8_CRYPTO_POLICY} ",
        sysconfig_sshd=SYSCONFIG_RHEL8,
    ),
    Distro(
        slug="centos-7",
        what=(
            "CentOS 7.9, openssh-server 7.4p1-23.el7_9 (Red Hat GSSAPI/Kerberos patches), no "
            "Include and no sshd_config.d, systemd 219 sshd.service (is-active prints 'unknown' "
            "for units it does not know), `ssh -Q key-sig` unsupported (empty section)"
        ),
        os_release="""\
NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:centos:centos:7"
HOME_URL="https://www.centos.org/"
BUG_REPORT_URL="https://bugs.centos.org/"

CENTOS_MANTISBT_PROJECT="CentOS-7"
CENTOS_MANTISBT_PROJECT_VERSION="7"
REDHAT_SUPPORT_PRODUCT="centos"
REDHAT_SUPPORT_PRODUCT_VERSION="7"

""",
        sshd_version=_usage_version("OpenSSH_7.4p1, OpenSSL 1.0.2k-fips  26 Jan 2017"),
        sshd_T=CENTOS7_T,
        kex=KEX_74_RHEL7,
        cipher=CIPHER_74,
        mac=MAC_74,
        key_sig=[],
        main_config=CENTOS7_CONFIG,
        dropin_dir=False,
        service=_units(
            ssh_service=" unknown",
            sshd_service="enabled active",
            ssh_socket=" unknown",
            sshd_socket="disabled inactive",
        )
        + "pidfile /run/sshd.pid 1122\n",
        listener_cmdline="/usr/sbin/sshd -D ",
        sysconfig_sshd=SYSCONFIG_RHEL7,
    ),
    Distro(
        slug="rocky-9",
        what=(
            "Rocky Linux 9.4, openssh-server 8.7p1-38.el9, Include of sshd_config.d first, "
            "01-permitrootlogin.conf (Anaconda), 50-cloud-init.conf and 50-redhat.conf (crypto "
            "policy Include), systemd sshd.service"
        ),
        os_release="""\
NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.4"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
""",
        sshd_version=_usage_version("OpenSSH_8.7p1, OpenSSL 3.0.7 1 Nov 2022"),
        sshd_T=ROCKY9_T,
        kex=KEX_85,
        cipher=CIPHER_87,
        mac=MAC_80,
        key_sig=KEYSIG_87,
        main_config=ROCKY9_CONFIG,
        dropins={
            "01-permitrootlogin.conf": ROCKY9_PERMITROOT_DROPIN,
            "50-cloud-init.conf": CLOUD_INIT,
            "50-redhat.conf": ROCKY9_REDHAT_DROPIN,
        },
        service=_units(sshd_service="enabled active", sshd_socket="disabled inactive")
        + "pidfile /run/sshd.pid 1029\n",
        listener_cmdline=LISTENER_TITLE,
        sysconfig_sshd=SYSCONFIG_RHEL9,
    ),
]


def main(argv: list[str]) -> None:
    for d in DISTROS:
        if argv and d.slug not in argv:
            continue
        text = build(d)
        (OUT_DIR / f"{d.slug}.txt").write_text(text)
        print(f"{d.slug}: {len(text)} characters", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
