# kube-rollouts: every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
CLUSTER_ENV := .local/cluster/env
# Python >= 3.11: the first one found.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)

.PHONY: help install lock tools-update image lint unit integration test crds bench demo cluster-up cluster-down cluster-status build-cluster clean

help:
	@echo "make demo            run the main job on the embedded local cluster"
	@echo "make test            lint + unit tests + integration tests (brings the local cluster up)"
	@echo "make install         create $(VENV) with the project (editable) and its dev tools"
	@echo "make unit            unit tests only (no cluster)"
	@echo "make integration     integration tests against the local control plane"
	@echo "make crds            regenerate crds/ from the pydantic models"
	@echo "make lock            refresh the Python lock (requirements/) from pyproject.toml"
	@echo "make tools-update    regenerate e2e/cluster/tools/*/go.{mod,sum} from versions.env"
	@echo "make image           the controller image as an OCI archive in dist/ (no Docker needed)"
	@echo "make bench           benchmarks (figures go to docs/benchmarks.md)"
	@echo "make cluster-up | cluster-down | cluster-status   the local control plane"

# Every input is pinned in the repository: Python packages by the hash lock in requirements/ (refreshed
# by `make lock`), the Go-built control plane by e2e/cluster/tools/*/go.sum (`make tools-update`), and
# Debian packages by the version ranges in e2e/cluster/debian-packages.txt (checked, installed when missing).
LOCK := requirements/dev.txt
UV_VERSION := 0.13.9
UV := .local/uv/bin/uv
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet

$(STAMP): pyproject.toml $(LOCK)
	@test -n "$(PYTHON)" || { echo "install: Python 3.11 or newer is needed (apt-get install -y python3)"; exit 1; }
	$(PYTHON) e2e/cluster/debian.py
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check --require-hashes --no-deps -r $(LOCK)
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(VENV)/bin/pip check --disable-pip-version-check
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

# Refresh the Python lock from pyproject.toml, keeping current pins that still fit; `make lock
# UPGRADE=--upgrade` takes the newest versions. Needs the package index; commit the result.
lock:
	@test -x $(UV) || { $(PYTHON) -m venv .local/uv && .local/uv/bin/pip install -q uv==$(UV_VERSION); }
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) $(UPGRADE) -o requirements/runtime.txt
	$(UV) pip compile pyproject.toml requirements/build.in --extra dev $(LOCK_FLAGS) $(UPGRADE) \
	  -c requirements/runtime.txt -o $(LOCK)

# Regenerate the control plane's pinned Go wrapper modules from e2e/cluster/versions.env (commit the result).
tools-update:
	bash e2e/cluster/tools/update.sh

# The controller image as an OCI archive, without Docker (needs root for mmdebstrap and chroot).
image: $(STAMP)
	$(PY) -m image.build

bench: $(STAMP)
	$(PY) -m bench

demo: cluster-up
	$(PY) -m e2e.demo

clean: cluster-down
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
