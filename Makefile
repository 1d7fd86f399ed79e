# dmkit — `make help` lists the targets. Everything runs in ./.venv, created on first use.
# Two commands on a fresh machine with Python >= 3.10:
#   make report   one province's case-study reports -> reports/$(PROVINCE)/$(MONTH)/index.html
#   make test     the test suite (slow tests skipped)

PYTHON   ?= python3
VENV     ?= .venv
PROVINCE ?= jiangsu
MONTH    ?= 2009-06
JOBS     ?= 2

PY  := $(VENV)/bin/python
PIP := $(PY) -m pip

.DEFAULT_GOAL := help
.PHONY: help report test test-all test-slow lint synth docs clean

help: ## list the targets
	@echo "dmkit: make <target> [PROVINCE=jiangsu MONTH=2009-06 JOBS=2]"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

report: $(VENV)/.installed-notebook ## set up, then run every case-study notebook for one province and month into HTML
	$(VENV)/bin/dmkit run --province $(PROVINCE) --month $(MONTH) --jobs $(JOBS)
	@echo "open reports/$(PROVINCE)/$(MONTH)/index.html"

test: $(VENV)/.installed-dev ## set up, then run the tests (slow ones skipped; spark ones skip without Java)
	$(PY) -m pytest -n 2

test-slow: $(VENV)/.installed-dev ## only the slow tests (bigger simulated provinces)
	$(PY) -m pytest -n 2 -m slow

test-all: test test-slow ## the default tests, then the slow ones

lint: $(VENV)/.installed-dev ## ruff on the package and the tests
	$(VENV)/bin/ruff check dmkit tests benchmarks

docs: $(VENV)/.installed-docs ## the documentation site (Sphinx + numpydoc) -> docs/_build/html, warnings as errors
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

synth: $(VENV)/.installed-notebook ## simulate one province (20,000 users) into data/generated
	$(VENV)/bin/dmkit synth --province $(PROVINCE) --month $(MONTH) --users 20000 --out data/generated

clean: ## remove generated data, reports and caches (keeps .venv)
	rm -rf data/generated reports docs/_build docs/_generated .pytest_cache .ruff_cache .hypothesis

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "dmkit needs Python >= 3.10; found " + sys.version.split()[0] + " (set PYTHON=python3.x)")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=23"

$(VENV)/.installed-notebook: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[notebook]"
	@touch $@

$(VENV)/.installed-docs: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[docs,notebook]"
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[dev,notebook]"
	@touch $@ $(VENV)/.installed-notebook
