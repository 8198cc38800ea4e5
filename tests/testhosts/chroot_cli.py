"""The chroot hosts' commands for `python -m tests.testhosts`: build the suites' rootfs caches,
serve one host for manual debugging, time copy+start+stop per copy mode."""

from __future__ import annotations

import argparse
import contextlib
import signal
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.testhosts.chroot import COPY_MODES, LOOPBACK, SUITES, TestHost, build_rootfs, rootfs_path
from tests.testhosts.rootfs import MIRROR


def build(suites: Sequence[str]) -> int:
    missing = [s for s in suites if not rootfs_path(s).is_dir()]
    for s in suites:
        if s not in missing:
            print(f"{s}: cached at {rootfs_path(s)}")
    if not missing:
        return 0
    print(f"building {', '.join(missing)} with debootstrap from {MIRROR} (a few minutes)...")

    def one(suite: str) -> str:
        t0 = time.monotonic()
        build_rootfs(suite)
        return f"{suite}: built in {time.monotonic() - t0:.0f} s at {rootfs_path(suite)}"

    # Downloads dominate, so the suites build side by side.
    with ThreadPoolExecutor(max_workers=len(missing)) as pool:
        for line in pool.map(one, missing):
            print(line)
    return 0


def serve(args: argparse.Namespace) -> int:
    keys = [Path(k) for k in args.key]
    with TestHost(
        args.suite,
        include=not args.no_include,
        cloud_init=not args.no_cloud_init,
        port=args.port,
        authorized_keys=keys,
    ) as host:
        print(f"{host.suite}: OpenSSH {host.openssh_version} on {LOOPBACK}:{host.port}")
        print(f"  inside: nsenter -t {host.init_pid} -p -m -r -w /bin/sh")
        print(f"  root password: {host.root_password}; Ctrl-C stops it")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


def bench(args: argparse.Namespace) -> int:
    for mode in args.modes:
        times = []
        for _ in range(args.n):
            t0 = time.monotonic()
            with TestHost(args.suite, copy_mode=mode) as host:
                t1 = time.monotonic()
            t2 = time.monotonic()
            times.append((t1 - t0, t2 - t1))
            assert not host.namespace_pids()
        starts = ", ".join(f"{a:.2f}+{b:.2f}" for a, b in times)
        mean = sum(a + b for a, b in times) / len(times)
        print(f"{mode:8s} copy+start / stop (s): {starts}   mean total {mean:.2f} s")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`serve-chroot SUITE` and `bench-chroot` (`build` and `reap` cover both kinds)."""
    s = sub.add_parser("serve-chroot", help="run one chroot host until Ctrl-C (manual debugging)")
    s.add_argument("suite", choices=SUITES)
    s.add_argument("--port", type=int)
    s.add_argument("--key", action="append", default=[], help="public key file for root")
    s.add_argument("--no-include", action="store_true")
    s.add_argument("--no-cloud-init", action="store_true")
    m = sub.add_parser("bench-chroot", help="time a chroot host's copy+start+stop per copy mode")
    m.add_argument("--suite", default="bookworm", choices=SUITES)
    m.add_argument("--n", type=int, default=3)
    m.add_argument("--modes", nargs="*", default=list(COPY_MODES), choices=COPY_MODES)
