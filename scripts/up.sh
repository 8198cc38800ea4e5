#!/usr/bin/env bash
# Deploy one stack: `scripts/up.sh STACK [pulumi up options]` (what `make up STACK=dev` runs).
#
# The CLI comes from scripts/pulumi-cli.sh: an installed one, else the pinned version built
# from its Go modules and cached. Neither: its one line on how to get one, and exit 127. Then
# the preflight (tools/preflight.py) checks everything the deployment needs: credentials, the
# state backend you chose, the passphrase, the provider plugin, the stack and its config. Any
# problem: one block naming each with its fix, exit 1, nothing changed. This never logs in,
# never creates a stack and never edits a file: those are your choices (README, "First real
# deploy"). Then `pulumi up`; without a terminal only with --yes (`make up YES=1`).
set -euo pipefail

# First, with shell builtins only: without a CLI, its one line is all a user sees.
here="${BASH_SOURCE[0]%/*}"
[[ "$here" == "${BASH_SOURCE[0]}" ]] && here=.
cli="$("$here/pulumi-cli.sh")" || exit 127
export PATH="$cli:$PATH"

stack="${1:-}"
if [[ -z "$stack" ]]; then
    echo "usage: scripts/up.sh STACK [pulumi up options]   (e.g. scripts/up.sh dev)" >&2
    exit 2
fi
shift

root="$(cd "$here/.." && pwd)"
cd "$root"

# Standard library only: runs before the venv exists (then without the config check).
python3 -m tools.preflight "$stack" "$@" || exit

# Pulumi.yaml runs the program with ./venv; `make` normally made it already.
if [[ ! -x venv/bin/python ]]; then
    echo "up: creating venv/ with the program's dependencies" >&2
    python3 -m venv venv
    venv/bin/pip install -q --disable-pip-version-check --require-hashes -r requirements.txt
    python3 -m tools.preflight "$stack" "$@" || exit  # now with the stack's config
fi

exec pulumi up --stack "$stack" "$@"
