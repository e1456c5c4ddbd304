# kube-rollouts: every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CLUSTER_ENV := .local/cluster/env
# Python >= 3.11: the first one found.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)

.PHONY: help install lint unit integration test crds bench demo cluster-up cluster-down cluster-status build-cluster clean

help:
	@echo "make demo            run the main job on the embedded local cluster"
	@echo "make test            lint + unit tests + integration tests (brings the local cluster up)"
	@echo "make install         create $(VENV) with the project (editable) and its dev tools"
	@echo "make unit            unit tests only (no cluster)"
	@echo "make integration     integration tests against the local control plane"
	@echo "make crds            regenerate crds/ from the pydantic models"
	@echo "make bench           benchmarks (figures go to docs/benchmarks.md)"
	@echo "make cluster-up | cluster-down | cluster-status   the local control plane"

# Debian packages the tests use (Prometheus is installed by cluster-up when missing).
DEBIAN_PACKAGES := lua5.4 openssl
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "install: Python 3.11 or newer is needed (apt-get install -y python3)"; exit 1; }
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "install: apt-get install $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	@touch $@

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy rollouts/api rollouts/engine
	$(VENV)/bin/lint-imports

unit: $(STAMP)
	$(PY) -m pytest tests/unit -q

build-cluster:
	bash e2e/cluster/build.sh

cluster-up: $(STAMP)
	$(PY) -m e2e.cluster up

cluster-down: $(STAMP)
	$(PY) -m e2e.cluster down

cluster-status: $(STAMP)
	$(PY) -m e2e.cluster status

integration: cluster-up
	$(PY) -m pytest tests/integration -q

test: lint unit integration

crds: $(STAMP)
	$(PY) -m rollouts.api.crdgen
	cp crds/*.yaml charts/kube-rollouts/crds/

bench: $(STAMP)
	$(PY) -m bench

demo: cluster-up
	$(PY) -m e2e.demo

clean: cluster-down
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
