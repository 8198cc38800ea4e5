"""The table of bad invocations tests/unit/test_bad_input.py runs: the base command line, each
case's change to it and the phrases its message must contain ({name} fields are the files and
the witness port that test makes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

UNSET = "HARDENED_ECS_TEST_UNSET_VARIABLE"
PASSPHRASE_ENV = "HARDENED_ECS_TEST_PASSPHRASE"


# "Billion laughs": seven levels of nine aliases each stand for 43 million strings (kept
# this small so that an engine without the limit only prints a few hundred MB, not GBs).
ALIAS_BOMB = (
    'defaults: {a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]}\n'
    + "".join(
        f"x{n}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
        for n, (a, b) in enumerate(zip("abcdefg", "bcdefgh", strict=True))
    )
)


@dataclass(frozen=True)
class Case:
    """One bad invocation: the base command line with flags replaced, dropped or added."""

    name: str
    expect: tuple[str, ...]  # phrases of the message: the flag/key, what is wrong, the fix
    replace: Mapping[str, str] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    add: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    action: str = "apply"


BASE = {
    "--host": "127.0.0.1",
    "--port": "{port}",
    "--user": "root",
    "--identity": "{key}",
    "--known-hosts": "{kh}",
    "--wait": "30",
    "--confirm-timeout": "10",
}
FLEET = ("--host", "--user", "--identity")


# fmt: off
CASES = [
    # --- the target
    Case("host missing", ("--host is required", "or --inventory FILE"), drop=("--host",)),
    Case("host empty", ("--host is required",), replace={"--host": ""}),
    Case("host malformed", ("--host 'web 1;rm'", "not a host name or IP address"),
         replace={"--host": "web 1;rm"}),
    Case("user missing", ("--user is required", "root on a fresh Alibaba image"),
         drop=("--user",)),
    Case("user malformed", ("--user 'Root User'", "not a valid login name"),
         replace={"--user": "Root User"}),
    Case("identity missing", ("--identity KEYFILE is required", "private key to log in with"),
         drop=("--identity",)),
    Case("port not a number", ("argument --port", "invalid int value: 'ssh'"),
         replace={"--port": "ssh"}),
    Case("port zero", ("--port 0: must be from 1 to 65535",), replace={"--port": "0"}),
    Case("port too high", ("--port 70000: must be from 1 to 65535",),
         replace={"--port": "70000"}),
    # --- timing
    Case("confirm timeout too short", ("--confirm-timeout 5: must be from 10 to 3600 seconds",),
         replace={"--confirm-timeout": "5"}),
    Case("confirm timeout too long", ("--confirm-timeout 86400: must be from 10 to 3600",),
         replace={"--confirm-timeout": "86400"}),
    Case("confirm timeout not a number", ("argument --confirm-timeout", "invalid int value"),
         replace={"--confirm-timeout": "2m"}),
    Case("wait negative", ("--wait -1: must be from 0 to 86400 seconds",),
         replace={"--wait": "-1"}),
    Case("wait not a number", ("argument --wait", "invalid float value: 'soon'"),
         replace={"--wait": "soon"}),
    Case("parallel zero", ("--parallel 0: must be from 1 to 200",), add=("--parallel", "0")),
    # --- host keys
    Case("fingerprint too short", ("--host-key-fingerprint 'SHA256:abc'",
         "expected SHA256:<43 base64 characters>", "ssh-keygen -lf"),
         add=("--host-key-fingerprint", "SHA256:abc")),
    Case("fingerprint md5", ("--host-key-fingerprint 'MD5:16:27:ac'", "expected SHA256:"),
         add=("--host-key-fingerprint", "MD5:16:27:ac")),
    Case("fingerprint and accept-new", ("argument --host-key-fingerprint",
         "not allowed with argument --accept-new-host-key"),
         add=("--accept-new-host-key", "--host-key-fingerprint",
              "SHA256:" + "A" * 43)),
    # --- keys
    Case("key file missing", ("--identity {missing}: no such file", "pass the private key's path"),
         replace={"--identity": "{missing}"}),
    Case("key is a directory", ("--identity {keydir}: is a directory, not a private key file",),
         replace={"--identity": "{keydir}"}),
    Case("key is garbage", ("--identity {garbage}: not an OpenSSH or PEM private key",
         "pass an RSA, ECDSA or Ed25519 private key"),
         replace={"--identity": "{garbage}"}),
    Case("key file empty", ("--identity {empty}: not an OpenSSH or PEM private key",),
         replace={"--identity": "{empty}"}),
    Case("public key instead of private", ("--identity {pub}: not an OpenSSH or PEM private key",),
         replace={"--identity": "{pub}"}),
    Case("encrypted PEM key without passphrase", ("--identity {pem_enc}: the private key is "
         "encrypted", "--passphrase-env NAME"),
         replace={"--identity": "{pem_enc}"}),
    Case("encrypted PEM key, wrong passphrase", ("--identity {pem_enc}: wrong passphrase",),
         replace={"--identity": "{pem_enc}"}, add=("--passphrase-env", PASSPHRASE_ENV),
         env={PASSPHRASE_ENV: "wrong"}),
    Case("encrypted OpenSSH key without passphrase", ("--identity {enc}: the private key is "
         "encrypted", "--passphrase-env NAME"), replace={"--identity": "{enc}"}),
    Case("encrypted OpenSSH key, wrong passphrase", ("--identity {enc}: wrong passphrase",),
         replace={"--identity": "{enc}"}, add=("--passphrase-env", PASSPHRASE_ENV),
         env={PASSPHRASE_ENV: "wrong"}),
    Case("key path through a file", ("--identity {key}/sub: cannot read it",),
         replace={"--identity": "{key}/sub"}),
    Case("key is a symlink loop", ("--identity {loop}: cannot read it",),
         replace={"--identity": "{loop}"}),
    Case("passphrase variable not set", (f"--passphrase-env {UNSET}: that variable is not set",),
         replace={"--identity": "{enc}"}, add=("--passphrase-env", UNSET)),
    # --- settings
    Case("profile unknown", ("argument --profile", "invalid choice: 'strict'",
         "choose from", "baseline"), add=("--profile", "strict")),
    Case("admin user root", ("admin user 'root' is not usable", "other than root",
         "e.g. --admin-user ops"), add=("--admin-user", "root")),
    Case("admin user malformed", ("admin user 'Ops Team' is not usable", "--admin-user ops"),
         add=("--admin-user", "Ops Team")),
    Case("set without =", ("--set 'MaxAuthTries'", "expected Directive=value",
         "e.g. --set MaxAuthTries=3"), add=("--set", "MaxAuthTries")),
    Case("set empty value", ("--set 'MaxAuthTries='", "expected Directive=value"),
         add=("--set", "MaxAuthTries=")),
    Case("set empty name", ("--set '=3'", "expected Directive=value"), add=("--set", "=3")),
    Case("set unknown directive", ("NoSuchOption: unknown sshd directive",
         "remove it or fix its spelling"), add=("--set", "NoSuchOption=yes")),
    Case("set misspelled directive", ("PermitRootLogn: unknown sshd directive",
         "did you mean PermitRootLogin?"), add=("--set", "PermitRootLogn=no")),
    Case("set wrong type", ("MaxAuthTries='lots'", "expected a whole number from 1 to 100"),
         add=("--set", "MaxAuthTries=lots")),
    Case("set out of range", ("MaxAuthTries='0'", "expected a whole number from 1 to 100"),
         add=("--set", "MaxAuthTries=0")),
    Case("set yes/no", ("X11Forwarding='maybe'", "expected yes or no"),
         add=("--set", "X11Forwarding=maybe")),
    Case("set malformed time", ("LoginGraceTime='forever'", "expected a time such as 30"),
         add=("--set", "LoginGraceTime=forever")),
    Case("set MaxStartups start > full", ("MaxStartups='20:30:10'", "start <= full"),
         add=("--set", "MaxStartups=20:30:10")),
    Case("set relative algorithm list", ("Ciphers='+aes128-cbc'",
         "explicit comma-separated list"), add=("--set", "Ciphers=+aes128-cbc")),
    Case("set crypto our client cannot speak", ("KexAlgorithms='sntrup761x25519-sha512'",
         "could not verify its own change", "include one of"),
         add=("--set", "KexAlgorithms=sntrup761x25519-sha512")),
    Case("set Port out of range", ("Port='70000'", "expected a whole number from 1 to 65535"),
         add=("--set", "Port=70000")),
    Case("set Port not a number", ("Port='ssh'", "expected a whole number from 1 to 65535"),
         add=("--set", "Port=ssh")),
    Case("set Port twice", ("--set Port: given twice ('2222', then '2200')", "give it once"),
         add=("--set", "Port=2222", "--set", "Port=2200")),
    Case("set host-owned Subsystem", ("Subsystem: is the host's own setting",
         "remove this override"), add=("--set", "Subsystem=sftp internal-sftp")),
    Case("set host-owned ListenAddress", ("ListenAddress: is the host's own setting",),
         add=("--set", "ListenAddress=0.0.0.0")),
    Case("set host-owned Match", ("Match: is the host's own setting",),
         add=("--set", "Match=User alice")),
    Case("lockout: no public keys", ("PubkeyAuthentication=no",
         "keep PubkeyAuthentication=yes"), add=("--set", "PubkeyAuthentication=no")),
    Case("lockout: password only", ("AuthenticationMethods='password'",
         "include 'publickey'"), add=("--set", "AuthenticationMethods=password")),
    Case("lockout: admin not allowed", ("AllowUsers/DenyUsers: the admin user 'ops' would be "
         "refused", "add ops to AllowUsers"), add=("--set", "AllowUsers=alice")),
    Case("lockout: admin denied", ("the admin user 'deploy' would be refused",),
         add=("--admin-user", "deploy", "--set", "DenyUsers=deploy")),
    # --- values that used to reach the host, or crash (issue 15)
    Case("set a 5000-digit number", ("MaxAuthTries='99999", "(5000 characters)",
         "expected a whole number from 1 to 100"), add=("--set", "MaxAuthTries=" + "9" * 5000)),
    Case("set a 5000-digit time", ("LoginGraceTime=", "expected at most 3600 seconds"),
         add=("--set", "LoginGraceTime=" + "9" * 5000 + "s")),
    Case("set a 5000-digit MaxStartups", ("MaxStartups=", "expected start:rate:full"),
         add=("--set", "MaxStartups=" + "9" * 5000)),
    Case("AuthorizedKeysFile with a comment", ("AuthorizedKeysFile='.ssh/authorized_keys #x'",
         "without quotes, '#'"), add=("--set", "AuthorizedKeysFile=.ssh/authorized_keys #x")),
    Case("AuthorizedKeysFile with an unbalanced quote", ("AuthorizedKeysFile='\".ssh/a'",
         "without quotes"), add=("--set", 'AuthorizedKeysFile=".ssh/a')),
    Case("AuthorizedKeysFile none", ("AuthorizedKeysFile='none': no user could log in with a "
         "key", "keep .ssh/authorized_keys"), add=("--set", "AuthorizedKeysFile=none")),
    Case("Banner a secret file", ("Banner='/etc/shadow'", "never a secret",
         "/etc/issue.net"), add=("--set", "Banner=/etc/shadow")),
    Case("Banner a host key", ("Banner='/etc/ssh/ssh_host_ed25519_key'", "never a secret"),
         add=("--set", "Banner=/etc/ssh/ssh_host_ed25519_key")),
    Case("Banner under /proc", ("Banner='/proc/1/environ'", "public text"),
         add=("--set", "Banner=/proc/1/environ")),
    Case("Banner climbing out of /etc", ("Banner='/etc/ssh/../../root/banner'", "public text"),
         add=("--set", "Banner=/etc/ssh/../../root/banner")),
    Case("lockout: own key type not accepted", ("PubkeyAcceptedAlgorithms='rsa-sha2-512'",
         "the key hardened-ecs logs in with (ssh-ed25519) would be refused",
         "include one of: ssh-ed25519"), add=("--set", "PubkeyAcceptedAlgorithms=rsa-sha2-512")),
    Case("lockout: own RSA key too small", ("RequiredRSASize=3072", "has 2048 bits"),
         replace={"--identity": "{rsa2048}"}, add=("--set", "RequiredRSASize=3072")),
    Case("admin user a system account", ("admin user 'nobody' is not usable",
         "system or image account", "--admin-user ops"), add=("--admin-user", "nobody")),
    Case("command timeout too short", ("--command-timeout 5: must be from 30 to 3600 seconds",),
         add=("--command-timeout", "5")),
    Case("inventory alias bomb", ("--inventory {inv_bomb}: not usable",
         "more than 200000 values (YAML aliases within aliases)"),
         drop=FLEET, add=("--inventory", "{inv_bomb}")),
    Case("inventory alias loop", ("--inventory {inv_loop}: not usable", "refers to itself"),
         drop=FLEET, add=("--inventory", "{inv_loop}")),
    Case("inventory lockout: own key type not accepted", (
         "127.0.0.1:{port}: PubkeyAcceptedAlgorithms='rsa-sha2-256'",
         "include one of: ssh-ed25519"), drop=FLEET, add=("--inventory", "{inv_own_key}")),
    Case("inventory host twice, other case", ("hosts[2]: localhost:{port} is listed twice",),
         drop=FLEET, add=("--inventory", "{inv_case}")),
    # --- fleet inventories
    Case("inventory missing", ("--inventory {dir}/none.yaml: cannot read it",),
         drop=FLEET, add=("--inventory", "{dir}/none.yaml")),
    Case("inventory not YAML", ("--inventory {inv_yaml}: not valid YAML",),
         drop=FLEET, add=("--inventory", "{inv_yaml}")),
    Case("inventory empty", ("--inventory {inv_empty}: expected a list of hosts",),
         drop=FLEET, add=("--inventory", "{inv_empty}")),
    Case("inventory of the wrong type", ("--inventory {inv_scalar}: expected a list of hosts",),
         drop=FLEET, add=("--inventory", "{inv_scalar}")),
    Case("inventory port not a number", ("{inv_port}: hosts[1].port: 'ssh' must be a number "
         "from 1 to 65535",), drop=FLEET, add=("--inventory", "{inv_port}")),
    Case("inventory unknown key", ("{inv_unknown}: hosts[1].hostname: unknown key",),
         drop=FLEET, add=("--inventory", "{inv_unknown}")),
    Case("inventory unknown top-level key", ("{inv_top}: unknown key(s) hostz",),
         drop=FLEET, add=("--inventory", "{inv_top}")),
    Case("inventory name in defaults",
         ("{inv_default_name}: defaults.name: a name belongs to one host; give it in its entry",),
         drop=FLEET, add=("--inventory", "{inv_default_name}")),
    Case("inventory name not a string", ("{inv_name}: hosts[1].name: must be a string",),
         drop=FLEET, add=("--inventory", "{inv_name}")),
    Case("inventory defaults not a mapping", ("{inv_defaults}: defaults must be a mapping",),
         drop=FLEET, add=("--inventory", "{inv_defaults}")),
    Case("inventory entry without identity", ("hosts[1].identity: required (in the entry, "
         "defaults:, or --identity)",),
         drop=FLEET, add=("--inventory", "{inv_no_identity}")),
    Case("inventory profile unknown", ("hosts[1].profile: 'paranoid' is not one of baseline, "
         "minimal",), drop=FLEET, add=("--inventory", "{inv_profile}")),
    Case("inventory host listed twice", ("hosts[2]: 127.0.0.1:{port} is listed twice",),
         drop=FLEET, add=("--inventory", "{inv_twice}")),
    Case("inventory host-owned directive", ("hosts[1]: ListenAddress: is the host's own setting",),
         drop=FLEET, add=("--inventory", "{inv_host_owned}")),
    Case("inventory lockout", ("hosts[1]: AllowUsers/DenyUsers: the admin user 'ops'",),
         drop=FLEET, add=("--inventory", "{inv_lockout}", "--user", "root",
                          "--identity", "{key}")),
    Case("inventory key encrypted, no passphrase", ("identity (127.0.0.1)", "encrypted",
         "passphrase_env"), drop=FLEET, add=("--inventory", "{inv_enc}")),
    Case("inventory passphrase variable not set", (f"passphrase_env {UNSET}: that variable is "
         "not set",), drop=FLEET, add=("--inventory", "{inv_pass_env}")),
    # --- check --report/--format (issue 23)
    Case("report format unknown", ("argument --format: invalid choice: 'nope'",),
         add=("--report", "{dir}/r.json", "--format", "nope"), action="check"),
    Case("report in a missing directory", ("--report {dir}/none/r.json: no directory "
         "{dir}/none; create it",), add=("--report", "{dir}/none/r.json"), action="check"),
    Case("report path not writable", ("--report /proc/hardened-ecs-report.json: cannot write "
         "there", "choose a writable path"),
         add=("--report", "/proc/hardened-ecs-report.json"), action="check"),
    Case("report path a directory", ("--report {dir}: is a directory; give a file name",),
         add=("--report", "{dir}"), action="check"),
    Case("report format without a report", ("--format junit: needs --report FILE",),
         add=("--format", "junit"), action="check"),
    Case("inventory report not writable", ("--report /proc/r.xml: cannot write there",),
         drop=FLEET, add=("--inventory", "{inv_twice}", "--report", "/proc/r.xml",
                          "--format", "junit"), action="check"),
]

# fmt: on
