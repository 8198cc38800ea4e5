"""Real OpenSSH test hosts of two kinds, sharing process, mount, image and client helpers.

systemd-booted hosts (systemd-nspawn) on a network of their own: `rootfs` (cached Debian
images), `machine` (boot, cgroup, overlay, stop, reboot), `machine_shell` (commands inside,
sshd -T, fault rules), `machine_reap` (clean-up, stale hosts), `network` (bridge, addresses, nft
faults), `client` (SSH from this machine), `fixtures` (systemd_factory).
Chroot hosts (sshd in its own PID+mount namespace on 127.0.0.1:PORT, no systemd): `chroot`
(TestHost, start/stop, leak guards; the public API), `chroot_image` (their rootfs caches),
`chroot_stage` (preparing a host's copy), `chroot_shell` (inside a running host), `syslog`
(its /dev/log), `loopback` (ports, listen sockets), `probes` (ssh, paramiko and ssh-audit from
this machine), `chroot_cli`. Both: `procs` (process and mount helpers).

CLI: `python -m tests.testhosts build [IMAGE...] [--chroot SUITE]...` · `reap` · `serve` ·
`serve-chroot` · `bench-chroot`.
"""
