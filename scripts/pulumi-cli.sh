#!/usr/bin/env bash
# Print the directory that holds a usable Pulumi CLI: `pulumi`, `pulumi-language-python` and
# `pulumi-resource-pulumi-python` (what a Python program with a dynamic provider needs).
#
#   export PATH="$(scripts/pulumi-cli.sh):$PATH"
#
# 1. An installed CLI on PATH at least as new as PULUMI_VERSION, with both helpers beside it:
#    its directory.
# 2. Otherwise the pinned version built from its Go modules with the machine's `go`, cached in
#    $PULUMI_CLI_CACHE/pulumi-<version>-lh<host revision>/bin (default /var/cache/hardened-ecs)
#    and reused later.
#    The build runs under a lock (two runs at once build it once) in a temporary directory that
#    is renamed into place only when complete (a build killed half-way leaves no cache entry;
#    its leftovers are removed by the next run).
# 3. Neither: one line that names both ways, exit 1.
#
# Progress goes to stderr; stdout is only the directory.
set -euo pipefail

# The one place the Pulumi version is pinned (the CLI the tests, `make up` and `make demo` use).
PULUMI_VERSION=3.274.1
# The Python language host is our own (tools/langhost): upstream's left sdk/v3 for a module of
# its own that the Go module proxy here does not serve. Bump this when tools/langhost changes,
# so a cached build is not reused with an older host.
LANGUAGE_HOST_REVISION=2

cache_root="${PULUMI_CLI_CACHE:-/var/cache/hardened-ecs}"
target="$cache_root/pulumi-$PULUMI_VERSION-lh$LANGUAGE_HOST_REVISION"
here="${BASH_SOURCE[0]%/*}"
[[ "$here" == "${BASH_SOURCE[0]}" ]] && here=.
here="$(cd "$here" && pwd)"
how="install the Pulumi CLI >= $PULUMI_VERSION (https://www.pulumi.com/docs/install/) or Go >= 1.26 (https://go.dev/dl/, to build it into $target)"

say() { echo "pulumi-cli: $*" >&2; }

version_at_least() { # $1 >= $2, both x.y.z
    [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

installed_dir() {
    local exe dir version
    exe="$(command -v pulumi 2>/dev/null)" || return 1
    dir="$(dirname "$exe")"
    [[ -x "$dir/pulumi-language-python" && -x "$dir/pulumi-resource-pulumi-python" ]] || return 1
    version="$("$exe" version 2>/dev/null)" || return 1
    version="${version#v}"
    version_at_least "$version" "$PULUMI_VERSION" || return 1
    echo "$dir"
}

complete() { # a finished cache entry (written last, before the rename)
    [[ -f "$1/bin/.complete" ]]
}

find_go() { # $GO if set (empty: none), else go on PATH, else Go's default install
    if [[ -n "${GO+set}" ]]; then
        [[ -n "$GO" && -x "$GO" ]] && echo "$GO" && return 0
        return 1
    fi
    command -v go 2>/dev/null && return 0
    [[ -x /usr/local/go/bin/go ]] && echo /usr/local/go/bin/go && return 0
    return 1
}

# Copy a module from the module cache into $2, writable (the cache is read-only).
module_copy() { # $1 module@version, $2 destination
    local dir
    dir="$("$go" mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
    [[ -n "$dir" && -d "$dir" ]] || {
        say "go mod download $1 gave no directory"
        return 1
    }
    mkdir -p "$2"
    cp -R "$dir/." "$2"
    chmod -R u+w "$2"
}

build_cli() { # $1 work dir, $2 bin dir
    # pkg/go.mod replaces sdk/v3 with ../sdk (so `go install` refuses): rebuild that layout.
    say "building pulumi $PULUMI_VERSION from its Go modules (cold: several minutes, ~2 GB)"
    module_copy "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "$1/pulumi/pkg"
    module_copy "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" "$1/pulumi/sdk"
    (cd "$1/pulumi/pkg" && "$go" build \
        -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
        -o "$2/pulumi" ./cmd/pulumi)
    # The language host runs programs through this script, the engine starts Python dynamic
    # providers through the shim; both ship in sdk/v3 (module zips drop the exec bits).
    install -m 0755 "$1/pulumi/sdk/python/cmd/pulumi-language-python-exec" "$2/"
    install -m 0755 "$1/pulumi/sdk/python/dist/pulumi-resource-pulumi-python" "$2/"
}

build_language_host() { # $1 work dir, $2 bin dir
    # Beside the exec script, where it looks for it. Its go.sum pins every dependency.
    say "building pulumi-language-python from tools/langhost (against sdk/v3 v$PULUMI_VERSION)"
    (cd "$here/../tools/langhost" && "$go" build -o "$2/pulumi-language-python" .)
}

build_into() { # $1 temporary entry
    mkdir -p "$1/bin" "$1/work"
    build_cli "$1/work" "$1/bin"
    build_language_host "$1/work" "$1/bin"
    rm -rf "$1/work"
    "$1/bin/pulumi" version >/dev/null
    echo "$PULUMI_VERSION" >"$1/bin/.complete"
}

if dir="$(installed_dir)"; then
    echo "$dir"
    exit 0
fi
if complete "$target"; then
    echo "$target/bin"
    exit 0
fi
if ! go="$(find_go)"; then
    echo "pulumi-cli: no Pulumi CLI >= $PULUMI_VERSION with pulumi-language-python on PATH and no Go to build one: $how" >&2
    exit 1
fi

mkdir -p "$cache_root"
exec 9>"$target.lock"
if ! flock -n 9; then
    say "another run is building pulumi $PULUMI_VERSION; waiting for it"
    flock 9
fi
if ! complete "$target"; then
    # Left by a build that was killed (we hold the lock, so no build is running).
    rm -rf "$target" "$target".tmp.*
    tmp="$(mktemp -d "$target.tmp.XXXXXX")"
    started=$SECONDS
    # Not `if ! build_into` nor `|| status=$?`: bash ignores `set -e` in anything run as a
    # condition, so a failed step would not stop the build.
    set +e
    (
        set -e
        build_into "$tmp"
    ) >&2
    status=$?
    set -e
    if ((status != 0)); then
        rm -rf "$tmp"
        echo "pulumi-cli: building pulumi $PULUMI_VERSION with $go failed (output above); $how" >&2
        exit 1
    fi
    chmod 0755 "$tmp"
    mv -T "$tmp" "$target"
    say "built pulumi $PULUMI_VERSION in $((SECONDS - started)) s into $target/bin"
fi
echo "$target/bin"
