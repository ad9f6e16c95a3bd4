# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# Parallel test processes (pytest-xdist); "auto" uses every core.
JOBS ?= auto

.PHONY: run test lint format schemathesis clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

## make run: the product on the embedded SQLite with demo data (PORT=8000).
run: $(STAMP)
	$(BIN)/servicedesk run --port $(PORT)

## make test: the whole suite (SQLite; PostgreSQL when DATABASE_URL is set).
test: $(STAMP)
	$(BIN)/pytest -n $(JOBS) -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy servicedesk bench

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## make schemathesis: fuzz the OpenAPI schema against a live server; no 5xx allowed.
schemathesis: $(STAMP)
	$(BIN)/python tests/schemathesis_run.py

clean:
	rm -rf $(VENV) var build *.egg-info
