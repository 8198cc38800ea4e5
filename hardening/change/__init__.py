"""Changing the host: the transaction and its on-host scripts, the admin account, host keys."""
