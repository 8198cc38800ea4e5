#!/usr/bin/env bash
# Check the GitHub workflows offline: structure (check-jsonschema's vendored schemas) and
# security (zizmor: injection, permissions, unpinned actions, credential persistence).
# Usage: scripts/check-workflows.sh [PROJECT_DIR]   (tools from $VENV, default ./venv)
set -euo pipefail

root="$(cd "${1:-$(dirname "$0")/..}" && pwd)"
bin="${VENV:-$root/venv}/bin"
cd "$root"

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
actions=(.github/actions/*/action.yml .github/actions/*/action.yaml)
if ((${#workflows[@]} == 0)); then
    echo "check-workflows: no workflow files under $root/.github/workflows" >&2
    exit 1
fi

"$bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
if ((${#actions[@]})); then
    "$bin/check-jsonschema" --builtin-schema vendor.github-actions "${actions[@]}"
fi
dependabot=()
[[ -f .github/dependabot.yml ]] && dependabot=(.github/dependabot.yml)
if ((${#dependabot[@]})); then
    "$bin/check-jsonschema" --builtin-schema vendor.dependabot "${dependabot[@]}"
fi
# --offline: no GitHub API (none is reachable here, and none is needed for these audits).
# --persona=auditor: also the pedantic audits, e.g. secrets-outside-env (a job reading secrets
# must run in a GitHub environment).
"$bin/zizmor" --offline --no-progress --persona=auditor --config .github/zizmor.yml \
    "${workflows[@]}" "${actions[@]}" "${dependabot[@]}"
