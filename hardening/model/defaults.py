"""Every default an operator can change, written once: the CLI, fleet mode, the engine's
Options and the Pulumi provider read them from here."""

from __future__ import annotations

PORT = 22
ADMIN_USER = "ops"  # the sudo user that keeps access when root's SSH login closes
WAIT = 300.0  # seconds a booting host gets to answer SSH (connect retries)
CONFIRM_TIMEOUT = 120  # seconds after which the host rolls back an unconfirmed change
COMMAND_TIMEOUT = 180.0  # seconds one remote command may take in total
VERIFY_WAIT = 20.0  # seconds a fresh connection may take after the reload
PARALLEL = 10  # hosts at once in fleet mode
