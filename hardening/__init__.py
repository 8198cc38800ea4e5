"""hardened-ecs sshd hardening engine: pure Python + paramiko, no Pulumi.

Layers, each in its own module:
  directives, desired  - the desired state (data, per OpenSSH version)
  facts                - what the host says (one remote script)
  plan, sshd_config    - desired vs facts: drift, files, reload
  transaction          - stage, validate, arm rollback, commit, confirm/roll back
  transport, keys      - SSH: host keys, retries, running scripts
  engine               - apply/check/plan for one host, as a Report
  cli, fleet           - the command line, one host or an inventory
"""
