# Hromada GIS — the two commands: `make run` and `make test`. Both install what is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Test processes, each with its own embedded PostGIS and Chromium. With 2 on 2 cores the machine stood
# idle 13 % of the suite (pages settling, processes starting); a third fills that: 263-270 s against
# 279-280 s (see README). More than one a core beyond that only adds contention.
TEST_WORKERS ?= 3

.PHONY: install system-deps test-system-deps run test fuzz bench stop lint wheel-check

install: system-deps $(STAMP)

system-deps:
	@bash tools/system-deps.sh

# Only the tests drive a real QGIS (Debian's 3.22, with the system Python) and start the several-process
# shape (`hromada cluster up`: nginx, memcached).
test-system-deps:
	@bash tools/system-deps.sh chromium-headless-shell python3-qgis qgis-providers nginx-light memcached pgbouncer

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

## Start the embedded PostGIS, migrate, load the demo community if empty, serve http://127.0.0.1:5000
run: install
	$(BIN)/hromada run

## Run the test suite against a throwaway PostGIS (or DATABASE_URL's server)
# Python's bytecode caches are written for the tests even where PYTHONDONTWRITEBYTECODE is set (as on this
# project's machines): without them every test worker and every process the tests start (the CLI, app
# processes, Dask workers) compiled the project again, and each worker rewrote the test modules' asserts.
test: install test-system-deps
	$(BIN)/python -m compileall -q -j 0 gis layers webmap importers tests
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

## The JSON APIs fuzzed deeper than the suite does: FUZZ_EXAMPLES random requests per operation and mode
FUZZ_EXAMPLES ?= 200
fuzz: install test-system-deps
	HROMADA_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -n $(TEST_WORKERS) tests/webmap/test_openapi.py $(PYTEST_ARGS)

## Benchmarks: each prints a ratio against a reference run in the same script
bench: install
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

## ruff (rules in pyproject.toml's [tool.ruff]); RUFF_ARGS="--statistics" passes options
lint: install
	$(BIN)/ruff check $(RUFF_ARGS) .

## Build the wheel, check it holds every file of the packages, install it (not editable) in a new venv
## and serve a page of each kind from it against its own PostGIS (tools/wheel_smoke.py)
wheel-check: install
	$(BIN)/python tools/wheel_smoke.py

## Stop the embedded PostGIS
stop:
	$(BIN)/hromada db stop
