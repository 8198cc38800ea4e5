"""`python -m tests.testhosts build [IMAGE...]` (e.g. trixie, trixie-cloudinit) · `reap`."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from tests.testhosts import machine, rootfs

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.testhosts")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build missing nspawn rootfs caches")
    b.add_argument("images", nargs="*", default=list(DEFAULT_IMAGES))
    sub.add_parser("reap", help="stop hosts left by dead test processes")
    args = parser.parse_args(argv)
    if args.cmd == "build":
        try:
            return _build(args.images)
        except ValueError as exc:
            parser.error(str(exc))
    print(f"reaped {machine.reap_stale()} stale host(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
