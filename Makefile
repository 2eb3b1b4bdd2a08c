# Each target sets itself up on a fresh machine: virtualenv, dependencies, database, migrations.
# Dependencies come from the lock files, the versions CI tested: requirements/run.txt (what serving
# needs: the core, the embedded PostgreSQL, the admin site) and requirements/dev.txt (everything, with
# the test and bench tools). pgbe itself is installed editable on top, without resolving again.
# `make lock` recompiles both from pyproject.toml. Changing either file or pyproject.toml reinstalls.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
SUM = $(shell cat pyproject.toml $(1) | cksum | cut -d' ' -f1)
RUN_STAMP := $(VENV)/.installed-run-$(call SUM,requirements/run.txt)
DEV_STAMP := $(VENV)/.installed-dev-$(call SUM,requirements/dev.txt)
LOCK = uv pip compile pyproject.toml --universal --python-version 3.11 --quiet $(LOCK_FLAGS)
WORKERS ?= 1

.PHONY: run test lint bench bench-replica migrate check-migrations lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): | $(BIN)/python
	$(PIP) -r requirements/run.txt
	$(PIP) --no-deps -e .
	rm -f $(VENV)/.installed-run-* && touch $@

$(DEV_STAMP): | $(BIN)/python
	$(PIP) -r requirements/dev.txt
	$(PIP) --no-deps -e .
	rm -f $(VENV)/.installed-dev-* && touch $@

run: $(RUN_STAMP)
	$(BIN)/pgbe run --workers $(WORKERS)

test: $(DEV_STAMP)
	$(BIN)/pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy pgbe app && $(BIN)/lint-imports --no-cache && $(BIN)/pgbe db lint

migrate: $(RUN_STAMP)
	$(BIN)/pgbe db upgrade

# Migration hazards (squawk + pgbe) and drift between the models and the migrated database.
check-migrations: $(DEV_STAMP)
	$(BIN)/pgbe db lint && $(BIN)/pgbe db check

bench: $(DEV_STAMP)
	bench/ensure_wrk.sh
	$(BIN)/python -m bench
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.replica

# GET cases served by a streaming replica beside the primary alone (starts its own cluster).
bench-replica: $(DEV_STAMP)
	$(BIN)/python -m bench.replica

# Recompile the lock files after a change to pyproject.toml's dependencies: current pins kept where they
# still fit (`make lock LOCK_FLAGS=--upgrade` for the newest), one set for Python 3.11 to 3.13
# (--universal). Run `make test` before committing them.
lock: $(DEV_STAMP)
	$(BIN)/$(LOCK) --extra dev -o requirements/dev.txt
	$(BIN)/$(LOCK) --extra embedded --extra admin -c requirements/dev.txt -o requirements/run.txt

clean:
	rm -rf $(VENV) .pgbe
