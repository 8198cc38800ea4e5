"""`make up`'s checks of the environment: Alibaba credentials, the state backend, the secrets
passphrase and a terminal (or `--yes`). Each returns its problems (none when all is well), each
naming what is missing and the fix. Standard library only: they run before any venv exists.

The rest of the preflight (the Pulumi CLI's stacks and plugins, the stack's config) and the
block they print are in tools/preflight.py.
"""

from __future__ import annotations

import json
import os
import pwd
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlparse

Env = Mapping[str, str]

# The Alibaba provider's credential chain, as pulumi-alicloud 4.0.0 (its Terraform provider)
# reads it: each entry is a set of variables that together are enough.
CREDENTIAL_VARIABLES: tuple[tuple[str, ...], ...] = (
    ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
    ("ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY"),
    # What the pipelines set (.github/actions/setup): AssumeRoleWithOIDC by the provider itself.
    (
        "ALIBABA_CLOUD_ROLE_ARN",
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
    ),
    ("ALIBABA_CLOUD_PROFILE",),
    ("ALICLOUD_PROFILE",),
    ("ALIBABA_CLOUD_ECS_METADATA",),
    ("ALICLOUD_ECS_ROLE_NAME",),
    ("ALIBABA_CLOUD_CREDENTIALS_URI",),
)
# The same in the stack's own config (alicloud:accessKey + alicloud:secretKey, ...).
CREDENTIAL_CONFIG: tuple[tuple[str, ...], ...] = (
    ("accessKey", "secretKey"),
    ("profile",),
    ("ecsRoleName",),
    ("assumeRoleWithOidc",),
    ("credentialsUri",),
)
YES_FLAGS = ("--yes", "-y", "--skip-preview", "-f")
PULUMI_CLOUD = "https://api.pulumi.com"


def stack_file_keys(stack_file: Path) -> set[str]:
    """The top-level keys and `namespace:key` config keys a stack file sets (no YAML parser:
    this runs before the venv)."""
    if not stack_file.is_file():
        return set()
    keys = set()
    for line in stack_file.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(\s*)([A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)?):", line)
        if match and (not match.group(1) or ":" in match.group(2)):
            keys.add(match.group(2))
    return keys


def check_credentials(env: Env, stack_keys: set[str]) -> list[str]:
    if any(all(env.get(v) for v in group) for group in CREDENTIAL_VARIABLES):
        return []
    if any(all(f"alicloud:{k}" in stack_keys for k in group) for group in CREDENTIAL_CONFIG):
        return []
    return [
        "No Alibaba Cloud credentials: the provider would fail on the first resource.\n"
        "Fix: export ALIBABA_CLOUD_ACCESS_KEY_ID=... ALIBABA_CLOUD_ACCESS_KEY_SECRET=... "
        "(a RAM user's AccessKey; also ALIBABA_CLOUD_SECURITY_TOKEN for STS). Also accepted: "
        "ALIBABA_CLOUD_PROFILE (a profile of `aliyun configure`, ~/.aliyun/config.json), "
        "ALIBABA_CLOUD_ROLE_ARN + ALIBABA_CLOUD_OIDC_PROVIDER_ARN + ALIBABA_CLOUD_OIDC_TOKEN_FILE "
        "(OIDC, as the pipelines), ALIBABA_CLOUD_ECS_METADATA (an ECS RAM role), or "
        "`pulumi config set alicloud:accessKey ...` + `pulumi config set --secret "
        "alicloud:secretKey ...`."
    ]


def pulumi_home(env: Env) -> Path:
    """Where the CLI keeps its login: $PULUMI_HOME, else ~/.pulumi of the user's account (the
    CLI reads the account's home directory, not $HOME)."""
    if env.get("PULUMI_HOME"):
        return Path(env["PULUMI_HOME"])
    return Path(pwd.getpwuid(os.getuid()).pw_dir) / ".pulumi"


def chosen_backend(env: Env) -> str | None:
    """The backend `pulumi` will use, without asking it (it might log in): PULUMI_BACKEND_URL,
    else the current login, else Pulumi Cloud when PULUMI_ACCESS_TOKEN is set."""
    if env.get("PULUMI_BACKEND_URL"):
        return env["PULUMI_BACKEND_URL"]
    try:
        current = json.loads((pulumi_home(env) / "credentials.json").read_text()).get("current")
    except (OSError, ValueError, AttributeError):
        current = None
    if isinstance(current, str) and current:
        return current
    return PULUMI_CLOUD if env.get("PULUMI_ACCESS_TOKEN") else None


def check_backend(env: Env) -> list[str]:
    backend = chosen_backend(env)
    if backend is None:
        return [
            "No Pulumi state backend chosen (PULUMI_BACKEND_URL unset, not logged in). `make up` "
            "does not pick one for you. Fix, one of:\n"
            "  local files:  mkdir -p ~/.hardened-ecs-state && export "
            "PULUMI_BACKEND_URL=file://$HOME/.hardened-ecs-state\n"
            "  Alibaba OSS:  export PULUMI_BACKEND_URL='s3://BUCKET?endpoint=oss-cn-hangzhou."
            "aliyuncs.com&s3ForcePathStyle=true' AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... "
            "(an OSS key pair)\n"
            "  Pulumi Cloud: export PULUMI_ACCESS_TOKEN=... (or `pulumi login` yourself)"
        ]
    url = urlparse(backend)
    if url.scheme == "file":
        path = Path(os.path.expanduser(url.netloc + url.path))
        if not path.is_dir():
            return [f"The state directory of {backend} does not exist.\nFix: mkdir -p {path}"]
    key_pair = env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")
    if url.scheme == "s3" and not (key_pair or env.get("AWS_PROFILE")):
        return [
            f"The state backend {backend} needs its key pair.\n"
            "Fix: export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... (for OSS: an OSS "
            "AccessKey pair)"
        ]
    return []


def needs_passphrase(env: Env, stack_keys: set[str]) -> bool:
    """A passphrase-encrypted stack: one with an encryptionsalt, or a new one on a backend
    whose default secrets provider is the passphrase (any but Pulumi Cloud)."""
    if "encryptionsalt" in stack_keys:
        return True
    if "secretsprovider" in stack_keys:
        return False
    backend = chosen_backend(env) or ""
    return not backend.startswith(("https://", "http://"))


def check_passphrase(env: Env, stack_keys: set[str]) -> list[str]:
    if not needs_passphrase(env, stack_keys) or "PULUMI_CONFIG_PASSPHRASE" in env:
        return []
    passphrase_file = env.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if passphrase_file:
        if Path(passphrase_file).is_file():
            return []
        return [
            f"PULUMI_CONFIG_PASSPHRASE_FILE names {passphrase_file}, which is not a file.\n"
            "Fix: point it at the file that holds the stack's passphrase"
        ]
    return [
        "No passphrase for the stack's secrets (sshPrivateKey is one).\n"
        "Fix: export PULUMI_CONFIG_PASSPHRASE_FILE=~/.config/hardened-ecs/passphrase (a file "
        "only you can read) or PULUMI_CONFIG_PASSPHRASE=...; keep it: the stack's secrets "
        "cannot be read without it"
    ]


def check_confirmation(env: Env, stack: str, args: Sequence[str], interactive: bool) -> list[str]:
    """Without a terminal `pulumi up` cannot ask; it goes ahead only when told to."""
    if interactive or any(a in YES_FLAGS for a in args):
        return []
    if env.get("PULUMI_SKIP_CONFIRMATIONS", "").lower() in ("1", "true"):
        return []
    return [
        "Not a terminal: `pulumi up` cannot ask you to confirm the changes.\n"
        f"Fix: run it in a terminal to review them, or confirm ahead: `make up STACK={stack} "
        f"YES=1` (`scripts/up.sh {stack} --yes`)"
    ]
