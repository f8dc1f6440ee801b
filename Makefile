# Two entry points for a fresh machine: `make run` and `make test`.
# Both create .venv on first use and reinstall only when pyproject.toml or requirements.lock change.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Spark engine's packages (the `spark` extra, ≈ 600 MB) on top: `make test` needs them (the
# suite runs the Spark engine); `make run` installs them only with STREAMLYTICS_WAREHOUSE=spark.
SPARK_STAMP := $(VENV)/.installed-spark
RUN_STAMP := $(if $(filter spark,$(STREAMLYTICS_WAREHOUSE)),$(SPARK_STAMP),$(STAMP))
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install install-spark run serve lint test bench chromium postgres15 services-up services-down services-status clean-state

install: $(STAMP)

install-spark: $(SPARK_STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	$(BIN)/python -m pip check
	@touch $(STAMP)

$(SPARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev,spark]'
	$(BIN)/python -m pip check
	@touch $(SPARK_STAMP)

services-up: $(RUN_STAMP)
	$(BIN)/streamlytics services up

services-down: $(STAMP)
	$(BIN)/streamlytics services down

services-status: $(STAMP)
	$(BIN)/streamlytics services status

# The deployments of prefect.yaml served on the project's Prefect server (its UI address:
# `make services-status`); Ctrl-C stops serving, the server keeps running.
serve: services-up
	$(BIN)/streamlytics serve

run: services-up
	$(BIN)/streamlytics run

# The report's screenshot test needs headless Chromium: `make test` installs Debian's package
# first when it is missing and we are root (CI); otherwise that test fails and says how to get it.
CHROMIUM_IF_NEEDED := $(if $(wildcard /usr/bin/chromium),,$(if $(filter 0,$(shell id -u)),chromium))

chromium:
	test -x /usr/bin/chromium || apt-get install -y chromium || (apt-get update && apt-get install -y chromium)

# The suite also runs the whole chain on Debian's PostgreSQL 15, the oldest supported version
# (tests/test_postgres15.py starts its own server from these binaries). Debian's package would
# create and start a cluster of its own on port 5432: createcluster.conf tells it not to.
PG15_BIN := /usr/lib/postgresql/15/bin
POSTGRES15_IF_NEEDED := $(if $(wildcard $(PG15_BIN)/postgres),,$(if $(filter 0,$(shell id -u)),postgres15))

postgres15:
	mkdir -p /etc/postgresql-common
	grep -qs '^create_main_cluster = false' /etc/postgresql-common/createcluster.conf || \
		echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
	apt-get install -y postgresql-15 || (apt-get update && apt-get install -y postgresql-15)

# Two pytest-xdist workers (one per core of the 2-core reference machine), each taking whole
# modules (--dist loadfile: a module's fixtures, such as a built warehouse, are made once); most
# tests wait on PostgreSQL, dbt, Spark or a browser, so the second worker fills the first's
# waits. The slowest tests are listed at the end, so the 15-minute budget stays visible in CI's log.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?= -n $(PYTEST_WORKERS) --dist loadfile --durations=25

# ruff (lint and format check) for the Python; SQLFluff for the dbt project's SQL (.sqlfluff).
# SQLFluff's dbt templater compiles each model with dbt itself, and dbt's compiler opens the
# connection of profiles.yml (is_incremental() and run_query() ask the database; without one
# it stops), so the services start first and their variables are exported for that command.
# It compiles against an empty database of its own (LINT_DB, created when missing): against one
# that `make run` filled, is_incremental() is true and the linted SQL would be the incremental
# branch, so the same tree would pass on a new machine and fail after a run.
# All three run even when one fails, so one run lists every finding; any finding fails the target.
LINT_DB := streamlytics_lint
lint: services-up
	status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	eval "$$($(BIN)/streamlytics services env)" && \
	$(BIN)/python -c "$$LINT_DB_SQL" $(LINT_DB) && \
	PGDATABASE=$(LINT_DB) $(BIN)/sqlfluff lint dbt_project || status=1; \
	exit $$status

# Creates the database named by argv[1] on DATABASE_URL's server unless it exists.
define LINT_DB_SQL
import os, sys, psycopg2
conn = psycopg2.connect(os.environ["DATABASE_URL"])
conn.autocommit = True
cur = conn.cursor()
cur.execute("select 1 from pg_database where datname = %s", (sys.argv[1],))
if cur.fetchone() is None:
    cur.execute(f'create database "{sys.argv[1]}"')
endef
export LINT_DB_SQL

# Lint first: a finding stops `make test` before the 15-minute suite starts.
test: $(SPARK_STAMP) lint $(CHROMIUM_IF_NEEDED) $(POSTGRES15_IF_NEEDED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The pipeline benchmark from a fresh clone: scales 1, 10 and 45 by default (about an hour on
# 2 cores); e.g. `make bench BENCH_ARGS="--scales 1"`. Prints the table, writes benchmarks/results/.
BENCH_ARGS ?=

bench: services-up
	$(BIN)/python benchmarks/bench_pipeline.py $(BENCH_ARGS)

clean-state: services-down
	rm -rf .state
