"""SSH: connections, host-key trust, logins, remote commands (paramiko)."""
