#!/usr/bin/env bash
# Deploy one stack: `scripts/up.sh STACK [pulumi up options]` (what `make up STACK=dev` runs).
#
# The CLI comes from scripts/pulumi-cli.sh: an installed one, else the pinned version built
# from its Go modules and cached. Neither: its one line on how to get one, and exit 127. Then
# this makes sure the venv exists, uses a state backend (the one you are logged in to, else a
# local file backend in .pulumi-state/), selects or creates the stack and runs `pulumi up`.
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

# Pulumi.yaml runs the program with ./venv; `make` normally made it already.
if [[ ! -x venv/bin/python ]]; then
    echo "up: creating venv/ with the program's dependencies" >&2
    python3 -m venv venv
    venv/bin/pip install -q --disable-pip-version-check --require-hashes -r requirements.txt
fi

# Keep whatever backend the user is logged in to (Pulumi Cloud, OSS, ...); else local files.
if ! pulumi whoami >/dev/null 2>&1; then
    mkdir -p .pulumi-state
    echo "up: not logged in to a Pulumi backend; using local state in $root/.pulumi-state" >&2
    pulumi login "file://$root/.pulumi-state"
fi

pulumi stack select --create "$stack"
exec pulumi up --stack "$stack" "$@"
