# Headwater — the two commands are `make up` (run the platform) and `make test` (pass the tests).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
# Downloads are cached under the home folder, so a fresh clone fetches nothing twice.
export HEADWATER_CACHE ?= $(HOME)/.cache/headwater
export UV_CACHE_DIR ?= $(HOME)/.cache/uv
export PIP_CACHE_DIR ?= $(HOME)/.cache/pip


.PHONY: help
help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): | $(BIN)/python
	$(BIN)/python -m pip install --quiet "uv==0.13.9"

# Re-install when the dependency list or the lock changes.
$(VENV)/.installed: pyproject.toml constraints.txt | $(UV)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -c constraints.txt -e '.[dev]'
	touch $@

.PHONY: install
install: $(VENV)/.installed ## create .venv and install Headwater with its test tools

.PHONY: lint
lint: install ## ruff format --check, ruff check, mypy --strict
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# PyFlink's planner checks the Flink SQL we compile; it lives in a venv of its own (see script).
.PHONY: pyflink
pyflink: ## set up the PyFlink planner check (cached under ~/.cache/headwater)
	bash deploy/local/pyflink.sh

.PHONY: test
test: lint pyflink stack spark-jars ## set up everything and run the whole test suite
	$(BIN)/pytest

.PHONY: postgres
postgres: install ## start the local PostgreSQL (loopback, data under var/)
	bash deploy/local/postgres.sh start

# The data plane's local stack; each script is idempotent and prints its log's tail on failure.
.PHONY: s3
s3: install ## start the local S3-compatible server (SeaweedFS on loopback, data under var/)
	bash deploy/local/s3.sh start

.PHONY: trino
trino: postgres ## start the local Trino (loopback; Iceberg catalog on the local PostgreSQL)
	bash deploy/local/trino.sh start

.PHONY: spark-jars
spark-jars: install ## fetch Spark's Iceberg, AWS and PostgreSQL jars (cached under ~/.cache/headwater)
	bash deploy/local/spark.sh

# A real standalone cluster (master, two 1-core workers) from the Spark in .venv; see the script.
.PHONY: cluster
cluster: install spark-jars ## start a Spark standalone master and two workers on loopback
	bash deploy/local/spark-cluster.sh start

.PHONY: stack
stack: postgres s3 trino ## start the local stack: PostgreSQL, the S3 server, Trino

# The platform's processes first: the worker's last runs still need the database and S3.
.PHONY: down
down: ## stop everything: the worker, the API, the Polygon server, then the local stack
	if [[ -x $(BIN)/headwater ]]; then $(BIN)/headwater down; fi
	bash deploy/local/spark-cluster.sh stop
	bash deploy/local/trino.sh stop
	bash deploy/local/s3.sh stop
	bash deploy/local/postgres.sh stop

.PHONY: up
up: stack spark-jars ## start the platform in the background (API, worker, Polygon example); exits
	$(BIN)/headwater up

.PHONY: bench-uis
bench-uis: install ## benchmark: parse + validate + compile the Polygon example vs yaml.safe_load
	$(BIN)/python tests/bench/bench_uis.py

# Seeds benchmark databases on the local server once (about a minute) and reuses them after.
.PHONY: bench-api
bench-api: install ## benchmark: runs listing at 10k vs 1M runs, 1,000 live subscribers
	bash deploy/local/postgres.sh start
	$(BIN)/python tests/bench/bench_api.py

# The Iceberg catalog lives in PostgreSQL and Spark needs its jars; the S3 server and Trino are
# not used (the warehouse is the local one). About two minutes on two cores.
.PHONY: bench-ingest
bench-ingest: install ## benchmark: 2,000 tickers x 1 year into Iceberg vs an httpx loop and dlt
	bash deploy/local/postgres.sh start
	bash deploy/local/spark.sh
	$(BIN)/python tests/bench/bench_ingest.py

# A real API and worker on a fresh database; about three minutes on two cores.
.PHONY: bench-runs
bench-runs: install ## benchmark: trigger -> RUNNING, 100 runs via the platform vs run_plan in a loop, 100k log lines
	bash deploy/local/postgres.sh start
	bash deploy/local/spark.sh
	PYTHONPATH=tests/api:tests/runner/ingest:tests/runner/control $(BIN)/python tests/bench/bench_runs.py

# Reuses bench-api's seeded 10k database (seeded on first use, about a minute).
.PHONY: bench-abuse
bench-abuse: install postgres ## benchmark: the runs page for 8 clients, quiet vs while a read key abuses the API
	$(BIN)/python tests/bench/bench_abuse.py

.PHONY: lock
lock: $(UV) ## refresh constraints.txt from pyproject.toml (newest allowed versions)
	$(UV) pip compile --quiet --python $(BIN)/python --extra dev pyproject.toml -o constraints.txt

.PHONY: fmt
fmt: install ## format and auto-fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: clean
clean: ## remove the virtualenv and caches of this work tree (not the download cache)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
