# Callbridge: `make run` starts the server, `make test` runs every check.
# Both set up everything they need on a fresh Debian machine (root or sudo).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.callbridge-installed
CONFIG ?= callbridge.example.toml

RUN_DEBS := espeak-ng
TEST_DEBS := sip-tester baresip sox espeak-ng postgresql chromium php-cli php-curl

# Install the Debian packages in $(1) that dpkg does not report as installed.
define apt_ensure
	@missing=""; \
	for p in $(1); do \
	  dpkg -s "$$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  sudo=""; \
	  if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; fi; \
	  echo "apt: installing$$missing"; \
	  $$sudo apt-get update && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi
endef

.PHONY: run test lint typecheck bench venv run-deps test-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

venv: $(STAMP)

run-deps:
	$(call apt_ensure,$(RUN_DEBS))

test-deps:
	$(call apt_ensure,$(TEST_DEBS))

run: venv run-deps
	$(BIN)/callbridge serve --config $(CONFIG)

lint: venv
	$(BIN)/ruff check --no-cache .

typecheck: venv
	$(BIN)/mypy

# The PostgreSQL tests start a throwaway server of their own (tests/postgres_server.py); here
# they must run, not be skipped.
# Where new network namespaces may be made (root, and a container that allows it), the suite
# runs in two pytest-xdist workers, each in a namespace of its own (tests/worker_network.py), so
# their fixed loopback ports never meet; otherwise in one process.
TEST_WORKERS ?= $(shell [ "$$(id -u)" = 0 ] && unshare -n true 2>/dev/null && echo "-n 2 --dist loadfile")

test: venv test-deps lint typecheck
	CALLBRIDGE_TEST_POSTGRES=require $(BIN)/pytest -q $(TEST_WORKERS)

bench: venv test-deps
	@set -e; for script in bench/*.py; do \
	  [ -e "$$script" ] || continue; \
	  echo "== $$script"; \
	  $(BIN)/python "$$script"; \
	done
