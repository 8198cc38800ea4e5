"""`python -m tests.testhosts build [IMAGE...] [--chroot SUITE]...` (no names: every nspawn image
and every chroot suite, side by side) · `reap` (both kinds) ·
`serve IMAGE --key FILE.pub [--socket] [--kill-user-processes] [--no-include]` ·
`serve-chroot SUITE` · `bench-chroot` (the chroot hosts: chroot_cli.py)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from tests.testhosts import chroot, chroot_cli, machine, rootfs

DEFAULT_IMAGES = (*rootfs.SUITES, "trixie-cloudinit")


def _image(name: str) -> rootfs.Image:
    suite, _, extra = name.partition("-")
    if extra not in ("", "cloudinit"):
        raise ValueError(f"unknown image {name!r}; e.g. {', '.join(DEFAULT_IMAGES)}")
    return rootfs.Image(suite, cloud_init=extra == "cloudinit")


def _build(names: Sequence[str]) -> int:
    images = [_image(n) for n in names]

    def one(image: rootfs.Image) -> str:
        if image.path.is_dir():
            return f"{image.name}: cached at {image.path}"
        t0 = time.monotonic()
        rootfs.build(image)
        return f"{image.name}: built in {time.monotonic() - t0:.0f} s at {image.path}"

    # Downloads dominate: build side by side (a cloud-init image waits for its base's lock).
    with ThreadPoolExecutor(max_workers=len(images)) as pool:
        for line in pool.map(one, images):
            print(line, flush=True)
    return 0


def _build_both(images: Sequence[str], suites: Sequence[str]) -> int:
    """The nspawn images and the chroot suites side by side (downloads dominate both)."""
    failed: list[BaseException] = []

    def chroots() -> None:
        try:
            chroot_cli.build(suites)
        except BaseException as exc:  # re-raised below, after the nspawn build
            failed.append(exc)

    worker = threading.Thread(target=chroots, name="chroot-build")
    if suites:
        worker.start()
    try:
        code = _build(images) if images else 0
    finally:
        if suites:
            worker.join()
    if failed:
        raise failed[0]
    return code


def _serve(args: argparse.Namespace) -> int:
    keys = [open(k).read() for k in args.key]  # noqa: SIM115 - read once
    host = machine.SystemdHost(
        _image(args.image),
        authorized_keys=keys,
        socket_activated=args.socket,
        kill_user_processes=args.kill_user_processes,
        include=not args.no_include,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the host on `kill PID` too
    with host:
        print(f"{host.name}: {args.image} at {host.address}:22 (bridge {host.bridge.name})")
        print(f"  inside: nsenter -t {host.init_pid} -a /bin/sh; Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.testhosts")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build missing rootfs caches (nspawn and chroot)")
    b.add_argument("images", nargs="*", metavar="IMAGE", help="nspawn images (default: all)")
    b.add_argument(
        "--chroot",
        action="append",
        default=[],
        metavar="SUITE",
        help=f"a chroot suite (default: all of {' '.join(chroot.SUITES)})",
    )
    sub.add_parser("reap", help="stop hosts left by dead test processes")
    v = sub.add_parser("serve", help="run one host until Ctrl-C (manual debugging)")
    v.add_argument("image", help="e.g. trixie, forky, trixie-cloudinit")
    v.add_argument("--key", action="append", default=[], help="public key file for root")
    v.add_argument("--socket", action="store_true", help="ssh.socket instead of ssh.service")
    v.add_argument("--kill-user-processes", action="store_true")
    v.add_argument("--no-include", action="store_true")
    chroot_cli.add_commands(sub)
    args = parser.parse_args(argv)
    if args.cmd == "serve":
        return _serve(args)
    if args.cmd == "serve-chroot":
        return chroot_cli.serve(args)
    if args.cmd == "bench-chroot":
        return chroot_cli.bench(args)
    if args.cmd == "build":
        unknown = set(args.chroot) - set(chroot.SUITES)
        if unknown:
            parser.error(f"unknown suite(s) {sorted(unknown)}; known: {', '.join(chroot.SUITES)}")
        everything = not args.images and not args.chroot
        images = list(DEFAULT_IMAGES) if everything else args.images
        suites = list(chroot.SUITES) if everything else args.chroot
        try:
            return _build_both(images, suites)
        except ValueError as exc:
            parser.error(str(exc))
    print(f"reaped {chroot.reap_stale()} stale chroot host(s)")
    print(f"reaped {machine.reap_stale()} stale host(s) and bridge(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
