#!/usr/bin/env bash
# System packages for `make test` on a fresh Debian (run as root; idempotent).
# Test hosts need debootstrap (rootfs cache), util-linux (unshare, nsenter, setpriv),
# mount (overlay, proc) and the OpenSSH client (real-login proof); python3-venv builds the venv.
# systemd-booted hosts (tests/testhosts/) need systemd-nspawn (systemd-container) and iproute2
# (their bridge); nft for network faults runs from each host's own rootfs. `make lint` needs
# the shellcheck package for every shell script.
# openscap-scanner + ssg-debderived: the independent check of the evidence report (issue 23).
set -euo pipefail

packages=(
    ca-certificates
    debian-archive-keyring
    debootstrap
    iproute2
    mount
    openscap-scanner
    openssh-client
    python3
    python3-venv
    shellcheck
    ssg-debderived
    systemd-container
    util-linux
)

missing=()
for pkg in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
    exit 0 # the common case: nothing to do, no network
fi

if ((EUID != 0)); then
    echo "install-test-deps: missing ${missing[*]}; run as root: sudo $0" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
    apt-get install -y -q --no-install-recommends "${missing[@]}"
}
# Update the package lists only when needed: none yet, or the install fails on stale ones.
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    apt-get update -q
    apt_install
elif ! apt_install; then
    apt-get update -q
    apt_install
fi
