# `make run` and `make test` are the whole set-up: each creates .venv and installs on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast translations lint typecheck format bench bench-docs clean

# The suite runs on every core (at most four: past that, the server processes some tests start
# mostly wait for each other); `make test PYTEST_WORKERS=0` runs it in one process. Work
# stealing keeps both cores busy to the end: a few tests take a minute (schemathesis, faults).
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --maxprocesses 4 --dist worksteal)

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	mkdir -p $(VENV)/typecheck
	ln -sfn ../../services $(VENV)/typecheck/cardcrm
	ln -sfn ../../plugins $(VENV)/typecheck/cardcrm_plugins
	touch $(STAMP)

# The message catalogues, compiled at install and whenever a .po changes.
CATALOGUES := $(wildcard services/*/translations/*/LC_MESSAGES/*.po plugins/translations/*/LC_MESSAGES/*.po)
COMPILED := $(CATALOGUES:.po=.mo)
%.mo: %.po $(STAMP)
	$(BIN)/python -m cardcrm.common.i18n compile

# `make translations` adds newly marked strings to every language's .po (then translate them).
translations: $(STAMP)
	$(BIN)/python -m cardcrm.common.i18n_catalogues update

# `make run PORT=8101 HOST=0.0.0.0` picks the address (default 127.0.0.1:8000).
run: $(STAMP) $(COMPILED)
	$(BIN)/cardcrm up $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

test: $(STAMP) $(COMPILED)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

# The edit-test loop: the suite without the tests marked slow (end-to-end processes, browsers,
# schemathesis, package builds). `make test` runs everything.
test-fast: $(STAMP) $(COMPILED)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_PARALLEL) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# docs/benchmarks.md from docs/benchmarks-intro.md and the latest results in bench/results/.
bench-docs: $(STAMP)
	$(BIN)/python -m bench docs

clean:
	rm -rf $(VENV) build *.egg-info
