"""systemd-booted test hosts (systemd-nspawn) on a network of their own.

One module each: `rootfs` (cached Debian images), `machine` (boot, cgroup, overlay, stop,
reboot), `network` (bridge, addresses, nft faults), `client` (SSH from this machine), `procs`
(process and mount helpers). The chroot hosts without systemd stay in tests/testhost.py.

CLI: `python -m tests.testhosts build [IMAGE...]` · `reap`.
"""
