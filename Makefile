# One command per habit. `make run` and `make test` install what is missing first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export NUMBA_CACHE_DIR := $(CURDIR)/$(VENV)/numba-cache

.PHONY: install run test chromium postgresql lint fmt bench lab dashboard lock clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip wheel setuptools
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,postgres]'
	$(BIN)/python -m ipykernel install --sys-prefix --name lab --display-name "Trading Lab (Python 3.11)" >/dev/null
	@echo "Warming numba's cache (once per install) ..."
	$(BIN)/lab warmup
	@touch $(STAMP)

run: install
	$(BIN)/lab main

test: install chromium postgresql
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The browser tests drive Debian's Chromium (Playwright's own browser download does not work here).
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Chromium for the browser tests (apt-get) ..."; \
		(apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) \
		|| echo "WARNING: Chromium could not be installed: the browser tests (tests/e2e) will be SKIPPED"; \
	else echo "WARNING: no Chromium and no root apt-get: the browser tests (tests/e2e) will be SKIPPED"; fi

# The PostgreSQL tests start a throwaway server from Debian's package (the tests start and stop it).
postgresql:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing PostgreSQL for the database tests (apt-get) ..."; \
		(apt-get install -y -q postgresql >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null)) \
		|| echo "WARNING: PostgreSQL could not be installed: the PostgreSQL tests will be SKIPPED"; \
	else echo "WARNING: no PostgreSQL and no root apt-get: the PostgreSQL tests will be SKIPPED"; fi

lint: install
	$(BIN)/ruff check lab tests benchmarks
	$(BIN)/ruff format --check lab tests benchmarks

fmt: install
	$(BIN)/ruff check --fix lab tests benchmarks
	$(BIN)/ruff format lab tests benchmarks

bench: install
	$(BIN)/python benchmarks/run_all.py

lab: install
	$(BIN)/jupyter lab --notebook-dir=notebooks

dashboard: install
	$(BIN)/lab dashboard

lock: install
	@{ head -2 constraints.txt; $(BIN)/pip freeze --exclude-editable; } > constraints.txt.new && mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) reports/runs reports/index.html
