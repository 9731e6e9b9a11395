# The two commands of the README. Both create .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_DIR ?= demo-export

.PHONY: test test-all dist demo bench lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall when the project metadata changes.
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[cli,test]'
	touch $@

# The command line needs the [cli] extra (rich).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[cli]'
	touch $@

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest

# The suite on each of Python 3.11, 3.12 and 3.13 found here (on PATH or in pyenv), each in
# .venv-3.X; names the ones it skipped.
test-all:
	scripts/test_all.sh

$(VENV)/.installed-dist: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet build
	touch $@

# Builds the sdist and the wheel into dist/ and checks them in a clean venv (build/dist-check):
# without extras (no rich; an import and a listing work), then with [cli]. Takes minutes.
dist: $(VENV)/.installed-dist
	scripts/check_dist.sh $(BIN)/python

demo: $(VENV)/.installed
	$(BIN)/invoice-async export $(DEMO_DIR) --demo --details --pdfs

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

# Every benchmark scenario, each against baselines run in the same process tree.
bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) $(VENV)-3.* $(DEMO_DIR) .mypy_cache .pytest_cache .ruff_cache dist build
