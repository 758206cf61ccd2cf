# AgencyWatch task runner. Every target installs what it needs first.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: setup demo test lint format lock serve bench airflow system-deps clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
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

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## lock: re-resolve requirements.lock from pyproject.toml (needs the registry)
lock: setup
	$(BIN)/uv pip compile --python-version 3.11 pyproject.toml --all-extras -o requirements.lock

serve: setup
	$(BIN)/agencywatch serve

clean:
	rm -rf data releases public .airflow test-artifacts
