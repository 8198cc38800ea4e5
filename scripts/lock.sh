#!/usr/bin/env bash
# Resolve the human-written inputs (*.in) into the hashed locks (*.txt) that every install uses
# with --require-hashes: `make lock` (all three, in order) or `scripts/lock.sh --upgrade-package X`.
#
# In order, each within the one before it: runtime (requirements.txt: the program, the policy
# pack, python -m hardening), dev/test (requirements-dev.txt: + lint and test tools) and bench
# (bench/requirements.txt: + pyinfra, ansible). pip-compile comes from the dev lock itself
# (pip-tools); its header is what Dependabot's pip ecosystem recognises and recompiles.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
compile="$(realpath -m "${LOCK_COMPILER:-venv/bin/pip-compile}")"
if [[ ! -x "$compile" ]]; then
    echo "lock: no $compile; run 'make venv/.installed' first (the dev venv holds pip-tools)" >&2
    exit 1
fi
for input in requirements.in requirements-dev.in bench/requirements.in; do
    echo "lock: $input -> ${input%.in}.txt" >&2
    # Relative paths in the header and in "via" lines: run from the input's folder.
    (cd "$(dirname "$input")" && "$compile" --quiet --generate-hashes --allow-unsafe \
        --strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
        --output-file "$(basename "${input%.in}.txt")" "$@" "$(basename "$input")")
done
