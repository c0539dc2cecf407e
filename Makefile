# Portcullis: make install | run | serve | test | bench | bench-usage
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run serve test test-embedded screenshots bench bench-usage lint format conformance

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# With a broker (REDIS_URL) a Celery worker with beat runs beside the server, so usage rolls up;
# it stops with the server. Without one, tasks run in-process and nothing else starts.
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo
	@if [ -n "$$REDIS_URL" ]; then \
	  $(VENV)/bin/celery -A portal worker --beat --loglevel=warning & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	fi; \
	$(VENV)/bin/uvicorn portal.asgi:application --host 127.0.0.1 --port 8000 --no-server-header --reload \
	  --reload-dir apis --reload-dir core --reload-dir keys --reload-dir lifecycle \
	  --reload-dir portal --reload-dir teams --reload-dir templates

# Production: the ASGI application under uvicorn on $${HOST:-127.0.0.1}:$${PORT:-8000}, one process
# per core unless WEB_CONCURRENCY says otherwise. No migrations, nothing else started.
serve: install
	$(PY) -m portal.serve

# Uses PostgreSQL and Redis on their standard local ports when they answer and DATABASE_URL /
# REDIS_URL are unset; `make test-embedded` forces the embedded default (SQLite, local memory).
test: install
	eval "$$($(PY) tests/services.py)" && $(PY) -m pytest $(PYTEST_ARGS)

test-embedded: install
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest $(PYTEST_ARGS)

# The browser tests, keeping their screenshots under docs/screenshots/ for the README.
screenshots: install
	eval "$$($(PY) tests/services.py)" && PORTCULLIS_SCREENSHOTS=1 $(PY) -m pytest tests/e2e -q

# The MCP conformance suite (npm, server mode) against a live /mcp; prints its pass/fail counts.
MCP_CONFORMANCE := $(VENV)/mcp-conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js

conformance: install
	test -f $(MCP_CONFORMANCE) || npm install --no-audit --no-fund --prefix $(VENV)/mcp-conformance @modelcontextprotocol/conformance@0.1.16
	eval "$$($(PY) tests/services.py)" && MCP_CONFORMANCE_RUNNER=$(abspath $(MCP_CONFORMANCE)) $(PY) -m pytest tests/mcp/test_conformance.py -s -q $(PYTEST_ARGS)

bench: install
	$(PY) -m bench

# Usage storage with 10 million events (BENCH_USAGE_EVENTS) in a database of its own; long.
bench-usage: install
	$(PY) -m bench.usage

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
