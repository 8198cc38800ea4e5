# The two commands a user needs (README): `make up STACK=dev` and `make test`; and `make demo`
# to try the hardening under a real `pulumi up` without a cloud account.
SHELL := /bin/bash
VENV ?= venv
PY := $(VENV)/bin/python
STACK ?= dev

.PHONY: up test lint unit deps testhosts validate bench demo pulumi-cli lock

# Every install is from a lock (*.txt: every package of the closure, pinned, with its hashes),
# checked by pip; the inputs people edit are the *.in files, resolved by `make lock`.
PIP_INSTALL = pip install -q --disable-pip-version-check --require-hashes
$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/$(PIP_INSTALL) -r requirements-dev.txt
	touch $@

# --- lock: resolve requirements.in, requirements-dev.in, bench/requirements.in into their
# hashed locks (pip-tools from the dev venv; needs PyPI). `make test` fails while an input and
# its lock disagree (tests/unit/test_locks.py). Options pass through: LOCK_ARGS="--upgrade".
LOCK_ARGS ?=
lock: $(VENV)/.installed
	scripts/lock.sh $(LOCK_ARGS)

# --- up: deploy one stack; one clear line instead when the Pulumi CLI is missing. No dev venv
# here: scripts/up.sh checks for the CLI first, then everything the deployment needs (one block
# of problems and fixes, nothing changed), then makes the runtime venv if it is missing.
# Without a terminal `pulumi up` cannot ask: YES=1 confirms ahead (--yes); ARGS go to `pulumi up`.
YES ?=
ARGS ?=
up:
	scripts/up.sh $(strip $(STACK) $(if $(filter 1 yes true,$(YES)),--yes) $(ARGS))

# --- test: everything, from a fresh Debian machine -------------------------
# The Pulumi CLI (installed, or built once with `go` and cached: scripts/pulumi-cli.sh) is on
# PATH for the tests that run the real engine; without one, its line and a failed `make test`.
# A cold CLI build is CPU work and the images are downloads: they run side by side.
# Test files run on 3 workers (whole files per worker: a file's hosts and stack stay together).
# Each worker is its own process, and the test hosts are made for that: a /24 and bridge claimed
# per process, ports picked at random and checked, state dirs reaped only when their owner died.
PYTEST_WORKERS ?= -n 3 --dist loadfile
test: deps $(VENV)/.installed
	scripts/pulumi-cli.sh > $(VENV)/.pulumi-cli-dir & cli_job=$$!; \
	$(MAKE) --no-print-directory testhosts lint; made=$$?; \
	wait $$cli_job; got=$$?; \
	[[ $$made == 0 && $$got == 0 ]] || exit 1; \
	PATH="$$(cat $(VENV)/.pulumi-cli-dir):$$PATH" $(PY) -m pytest $(PYTEST_WORKERS)

# --- pulumi-cli: get the CLI now (what `make test`, `make up` and `make demo` do first)
pulumi-cli:
	scripts/pulumi-cli.sh

# --- demo: two local test hosts, a real `pulumi up` of the hardening, a drift and its repair,
# then a clean teardown (no cloud account)
demo: deps $(VENV)/.installed testhosts
	cli="$$(scripts/pulumi-cli.sh)" && PATH="$$cli:$$PATH" $(PY) -m tools.demo

# Every shell script of the repository (tests/unit/test_shell_scripts.py keeps this list whole);
# the on-host scripts name their dialect (POSIX sh) themselves.
SHELL_SCRIPTS = $(wildcard hardening/*/scripts/*.sh scripts/*.sh) .ci/run

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	@command -v shellcheck >/dev/null || \
	  { echo "lint: shellcheck is missing; install it: sudo scripts/install-test-deps.sh" >&2; exit 1; }
	shellcheck $(SHELL_SCRIPTS)

# --- validate: offline gate, every Pulumi.*.yaml through config validation, the program
# under mocks and the policy pack's rules (no cloud credentials, no Pulumi CLI)
validate: $(VENV)/.installed
	$(PY) scripts/validate.py

# --- check-workflows: GitHub workflows against the vendored schema and zizmor, offline
.PHONY: check-workflows
check-workflows: $(VENV)/.installed
	VENV=$(VENV) bash scripts/check-workflows.sh

# --- test hosts: system packages and the Debian rootfs caches (tests/testhosts/): chroot hosts
# and systemd-booted hosts (systemd-nspawn), built side by side by the one command
deps:
	scripts/install-test-deps.sh

testhosts: $(VENV)/.installed
	$(PY) -m tests.testhosts build

# --- bench: CLI, fleet and program timings on its own fresh test hosts -> bench/RESULTS.md;
# then round trips over a delay line beside pyinfra and Ansible (bench/latency.py), whose
# bench-only tools (bench/requirements.txt) go into BENCH_VENV, a venv of their own (pyinfra
# wants an older paramiko than ours): `make test` never needs them.
BENCH_VENV ?= venv-bench
# e.g. LATENCY_ARGS="--before a75ca58": also the engine of that commit, for before/after
LATENCY_ARGS ?=

$(BENCH_VENV)/.bench-installed: bench/requirements.txt
	[ -x $(BENCH_VENV)/bin/pip ] || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/$(PIP_INSTALL) -r bench/requirements.txt
	touch $@

# Then round trips counted from packet captures (bench/capture_run.py, tshark from
# scripts/install-bench-deps.sh): both host kinds (systemd, chroot) and three key types, one
# fresh host per tool, every command bounded (300 s): 4-7 minutes on this 2-core machine.
bench: $(VENV)/.installed $(BENCH_VENV)/.bench-installed testhosts
	scripts/install-bench-deps.sh
	$(PY) -m bench.run
	$(PY) -m bench.latency --bench-venv $(BENCH_VENV) $(LATENCY_ARGS)
	$(PY) -m bench.capture_run --output bench/RESULTS.md
