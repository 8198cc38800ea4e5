# The two commands a user needs (README): `make up STACK=dev` and `make test`.
SHELL := /bin/bash
VENV ?= venv
PY := $(VENV)/bin/python
STACK ?= dev

.PHONY: up test lint unit deps testhosts validate bench

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# --- up: deploy one stack; one clear line instead when the Pulumi CLI is missing
up: $(VENV)/.installed
	scripts/up.sh $(STACK)

# --- test: everything, from a fresh Debian machine -------------------------
test: deps $(VENV)/.installed testhosts lint
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .
