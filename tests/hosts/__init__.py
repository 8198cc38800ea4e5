"""Real-host level: the engine, CLI and fleet against real OpenSSH (chroot and systemd hosts)."""
