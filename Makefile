# The two README commands: `make run` and `make test`. Nothing else needs to be installed first
# but Python 3.11 and git: uv is installed with pip where it is missing.
SHELL := /bin/bash
PYTHON ?= python3
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")

.PHONY: setup browser run test lint typecheck pytest bench clean

setup:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

run: setup
	@$(UV) run --frozen piguard demo

browser:
	@bash scripts/ensure-chromium.sh

test: setup browser lint typecheck pytest

lint:
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .

typecheck:
	@$(UV) run --frozen mypy

pytest:
	@$(UV) run --frozen pytest $(PYTEST_ARGS)

bench: setup
	@$(UV) run --frozen python bench/audit_append.py

clean:
	rm -rf .venv var .pytest_cache .mypy_cache .ruff_cache test-artifacts src/piguard/_native/*.so
