# zhtj-transfer developer entry points. `make` alone lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Extra pytest arguments for `make test`, e.g. make test ARGS='-k transfer -x'
ARGS ?=

.PHONY: help venv dev test bench lint clean

help:
	@echo "zhtj-transfer make targets:"
	@echo "  make dev     create/refresh .venv, then run 'zhtj dev' (Temporal dev server + worker + API, SQLite)"
	@echo "  make test    the suite twice: on SQLite, then on a throwaway PostgreSQL (scripts/test.sh)"
	@echo "               pytest arguments: make test ARGS='-k name -x'"
	@echo "  make bench   benchmarks (under 15 min on 2 cores): a table and bench/results/latest.json"
	@echo "  make lint    import-linter contracts, ruff check, ruff format --check, mypy, duplicate code"
	@echo "               (scripts/lint.sh: runs every check, then names the ones that failed)"
	@echo "  make clean   remove the .zhtj/ data directory and caches (keeps .venv)"
	@echo "  make venv    only create/refresh .venv (pip install -e '.[test,dev]' when pyproject.toml changed)"

venv:
	@bash scripts/venv.sh

dev: venv
	.venv/bin/zhtj dev

test: venv
	@bash scripts/test.sh $(ARGS)

bench: venv
	.venv/bin/python -m bench.run

lint: venv
	@bash scripts/lint.sh

clean:
	rm -rf .zhtj .pytest_cache .mypy_cache .ruff_cache .import_linter_cache tests/artifacts
	find . -path ./.venv -prune -o -path ./.git -prune -o -type d -name __pycache__ -print0 | xargs -0 rm -rf
