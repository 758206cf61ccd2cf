# AgencyWatch task runner. Every target installs what it needs first.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml Makefile | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: setup demo test lint format lock serve bench airflow system-deps clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

## demo: install, then run the whole pipeline on the fictional demo city
demo: setup
	$(BIN)/agencywatch run demo

## test: install (plus Chromium and CJK fonts for browser tests), then run the full suite
test: setup system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

system-deps:
	@bash scripts/install-system-deps.sh
	@test -f node_modules/.package-lock.json -a node_modules/.package-lock.json -nt package-lock.json || npm ci --no-audit --no-fund

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## lock: re-resolve the deploy image's lock, then the development lock within it (needs the registry)
lock: setup
	$(BIN)/uv pip compile --python-version 3.11 pyproject.toml --extra deploy -o deploy/requirements.lock
	$(BIN)/uv pip compile --python-version 3.11 pyproject.toml --extra test -c deploy/requirements.lock -o requirements.lock

serve: setup
	$(BIN)/agencywatch serve

## bench: the benchmark suite (not part of `make test`): figures in bench/results/, see BENCHMARKS.md
bench: setup
	@bash bench/install-hugo.sh
	$(BIN)/python -m bench.run_all

## airflow: Airflow standalone (UI on http://localhost:8080) with the project's DAGs; state in .airflow/
AIRFLOW_ENV := AIRFLOW_HOME=$(CURDIR)/.airflow AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False AGENCYWATCH_ROOT=$(CURDIR) GX_ANALYTICS_ENABLED=false
airflow: setup
	@mkdir -p .airflow
	$(AIRFLOW_ENV) $(BIN)/airflow db migrate
	$(BIN)/python dags/agencywatch_cities.py pools > .airflow/pools.json
	$(AIRFLOW_ENV) $(BIN)/airflow pools import .airflow/pools.json
	$(AIRFLOW_ENV) $(BIN)/airflow standalone

clean:
	rm -rf data releases public .airflow test-artifacts
