# Each target sets itself up on a fresh machine: virtualenv, dependencies, database, migrations.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
WORKERS ?= 1

.PHONY: run test lint bench bench-replica migrate check-migrations clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)
	$(BIN)/pgbe run --workers $(WORKERS)

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy pgbe app && $(BIN)/lint-imports --no-cache && $(BIN)/pgbe db lint

migrate: $(STAMP)
	$(BIN)/pgbe db upgrade

# Migration hazards (squawk + pgbe) and drift between the models and the migrated database.
check-migrations: $(STAMP)
	$(BIN)/pgbe db lint && $(BIN)/pgbe db check

bench: $(STAMP)
	bench/ensure_wrk.sh
	$(BIN)/python -m bench
	$(BIN)/python -m bench.scale
	$(BIN)/python -m bench.replica

# GET cases served by a streaming replica beside the primary alone (starts its own cluster).
bench-replica: $(STAMP)
	$(BIN)/python -m bench.replica

clean:
	rm -rf $(VENV) .pgbe
