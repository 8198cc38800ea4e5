#!/usr/bin/env bash
# System packages for `make bench` beyond `make test`'s (run as root; idempotent): tshark, to
# count round trips from packet captures (bench/capture.py). Installed without the question
# wireshark-common asks: non-root users may not capture (dumpcap not setuid); the bench is root.
set -euo pipefail

if dpkg-query -W -f='${db:Status-Status}' tshark 2>/dev/null | grep -qx installed; then
    exit 0 # the common case: nothing to do, no network
fi
if ((EUID != 0)); then
    echo "install-bench-deps: missing tshark; run as root: sudo $0" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
if ! apt-get install -y -q --no-install-recommends tshark; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends tshark
fi
