"""hardened-ecs sshd hardening engine: pure Python + paramiko, no Pulumi.

Layers, each in its own module:
  validation           - every input rule once, as structured Problems (no host needed)
  directives, profiles, desired - the desired state (data, per OpenSSH version)
  facts                - what the host says (one remote script)
  plan, sshd_config    - desired vs facts: drift, files, reload
  transaction          - stage, validate, arm rollback, commit, confirm/roll back
  transport, trust, channel, userauth, keys - SSH: host keys, logins, retries, scripts
  engine (+ session, change, admin_setup, verify, report) - apply/check/plan for one host
  api                  - the facade adapters call: a TargetSpec in, a Report out
  cli, fleet           - the command line, one host or an inventory
"""
