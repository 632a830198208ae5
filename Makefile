# scns — make targets. `make` alone lists them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install fmt lint test test-fast test-clients bench bench-quick demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# compat mode: a plain .pth entry; the default editable finder costs every command ~15 ms
	# clients: Slurm's client libraries (submitit, dask-jobqueue, Snakemake, Parsl), pinned
	$(PY) -m pip install -q -e '.[dev,clients]' --config-settings editable_mode=compat
	# byte-code up front, so commands never recompile (even under PYTHONDONTWRITEBYTECODE)
	$(PY) -m compileall -q scns >/dev/null
	touch $@

install: $(VENV)/.installed ## make the virtualenv; install scns, its dev tools and the clients

fmt: install ## format the code with ruff
	$(VENV)/bin/ruff format scns tests bench
	$(VENV)/bin/ruff check --fix scns tests bench

lint: install ## ruff lint and format check, the layers' import contracts, mypy
	$(VENV)/bin/ruff check scns tests bench
	$(VENV)/bin/ruff format --check scns tests bench
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy --ignore-missing-imports scns

test: install ## run the whole test suite (PostgreSQL/Redis tests skip when those are absent)
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: install ## unit tests only
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

test-clients: install ## only the end-to-end tests with submitit, dask-jobqueue, Snakemake, Parsl
	$(PY) -m pytest -q -m clients tests/clients $(PYTEST_ARGS)

bench: install ## run the benchmark suite; writes bench/results.json and bench/results.md
	$(PY) bench/run.py

bench-quick: install ## the benchmark suite's quick mode (under 2 minutes)
	$(PY) bench/run.py --quick

demo: install ## a tour on a scratch home (jobs, dependency, array, cancel, wait); says where scns is
	./examples/demo.sh

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .scns-demo
