"""hardened-ecs sshd hardening engine: pure Python + paramiko, no Pulumi.

Layers, one subpackage each; a module imports only from its own layer and the ones listed before
it (tests/unit/test_layers.py):
  model     - directives, profiles, desired state, validation (every input rule), errors
  host      - facts (one remote script) and the host's paths
  planning  - desired vs facts: drift, files, reload (plan, sshd_config)
  ssh       - transport, trust, channel, userauth, keys: host keys, logins, retries, scripts
  change    - the transaction and its on-host scripts, admin account scripts, host keys
  ops       - apply/check/plan/rotate for one host (engine, session, transact, verify), report,
              and api, the facade adapters call: a TargetSpec in, a Report out
  front     - cli, fleet (+ inventory), display
"""
