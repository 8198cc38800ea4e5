"""Entry point the Pulumi CLI runs for `--policy-pack policy`: creates the pack only.

The rules live in `policy.guardrails` so tests and the offline gate import them
without starting the pack's gRPC server (which PolicyPack() does and never returns).
"""

import sys
from pathlib import Path

# The CLI runs this file by path; make the repository root importable so the
# pack and the tests import the very same `policy.guardrails` modules.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.guardrails.policies import POLICIES

PolicyPack(
    name="hardened-ecs-guardrails",
    description="SSH exposure, sshd hardening, key strength, prod protection and tagging.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
