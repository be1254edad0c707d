# eagate: `make run` serves on SQLite with no other service; `make test` is the full check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

LOCK := requirements.lock

.PHONY: install lock run test lint typecheck pytest bench clean

install: $(STAMP)

# The exact versions of requirements.lock, each file checked against its hash (pip then refuses
# any dependency the lock does not pin), then the project itself, editable, without dependencies.
$(STAMP): pyproject.toml $(LOCK)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Rewrites requirements.lock from pyproject.toml (its dependencies and the dev extra) with the
# uv the lock pins. Versions already locked are kept while pyproject.toml allows them;
# LOCK_ARGS=--upgrade (or --upgrade-package NAME) takes the newest. Then `make install`.
lock: install
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		--python-platform linux --generate-hashes --custom-compile-command 'make lock' \
		--quiet $(LOCK_ARGS) -o $(LOCK)

run: install
	$(BIN)/eagate serve --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy src

# Parallel workers (pytest-xdist): each has its own databases, Redis database and ports.
# loadfile keeps a file's tests on one worker: module-scoped servers start once, and tests
# that check what their neighbours recorded still see it. PYTEST_WORKERS=0 runs serially.
# --max-worker-restart=0: a test past its time limit ends its worker (pytest-timeout's thread
# method); with loadfile, a replacement worker is never given work and the run waits forever,
# so the other workers finish the run instead.
PYTEST_WORKERS ?= auto

pytest: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --max-worker-restart=0 \
		--cov --cov-report=term $(PYTEST_ARGS)

test: lint typecheck pytest

bench: install
	@command -v wrk >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
		apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk); } || \
		echo "wrk is not installed: the signed poll benchmark will be skipped"
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .coverage
