# The two commands: `make run` (embedded demo) and `make test` (the whole suite).
# Both install what they need on a fresh Debian machine: Python packages into .venv, and
# Debian packages (chromium for browser tests, xmlsec1 for SAML) with apt-get where missing.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432/governance
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: oidc-provider run test test-postgres test-sqlite lint format system-deps services venv bench bench-scim bench-scim-stale bench-mapping bench-sso bench-rows bench-workspace bench-audit bench-streams bench-retention bench-credentials bench-gateway bench-usage clean

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]'
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.lock
	@touch $(STAMP)

# Debian packages: chromium (Playwright drives it; no browser download) and xmlsec1 (SAML).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v xmlsec1 >/dev/null || missing="$$missing xmlsec1"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# The OpenID Provider the OIDC tests start (npm oidc-provider, pinned by package-lock.json).
OIDC_OP := tests/oidc_provider
oidc-provider: $(OIDC_OP)/node_modules/.installed

$(OIDC_OP)/node_modules/.installed: $(OIDC_OP)/package-lock.json
	@command -v npm >/dev/null || { echo "Installing Debian packages: nodejs npm"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm >/dev/null; }
	cd $(OIDC_OP) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Start PostgreSQL and Redis when they are installed but stopped (CI and developer machines).
services:
	@if command -v pg_ctlcluster >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then \
	  echo "Starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start || true; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done; \
	fi
	@if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then \
	  echo "Starting Redis"; \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null; \
	  for i in $$(seq 1 20); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.25; done; \
	fi

run: venv
	@bash scripts/embedded-run

# On PostgreSQL (and Redis) when they are reachable, as in CI; then on SQLite.
# In CI (CI=true) PostgreSQL and Redis are required: their absence fails the run instead of
# quietly skipping the tests that need them. On a laptop without them, the suite says so and
# runs on SQLite.
test: venv system-deps services oidc-provider
	@if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then \
	  $(MAKE) --no-print-directory test-postgres; \
	elif [ -n "$${CI:-}" ]; then \
	  echo "CI: PostgreSQL is not reachable on 127.0.0.1:5432; refusing to skip its tests." >&2; \
	  exit 1; \
	else \
	  echo "PostgreSQL is not reachable on 127.0.0.1:5432: its tests run only on SQLite here."; \
	fi
	@$(MAKE) --no-print-directory test-sqlite

test-postgres: venv
	@echo "== test suite on PostgreSQL =="
	@redis=""; redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && redis="$(REDIS_TEST_URL)"; \
	if [ -z "$$redis" ] && [ -n "$${CI:-}" ]; then \
	  echo "CI: Redis is not reachable on 127.0.0.1:6379; refusing to skip its tests." >&2; \
	  exit 1; \
	fi; \
	[ -n "$$redis" ] || echo "Redis is not reachable on 127.0.0.1:6379: the cache is per process here."; \
	DATABASE_URL=$(PG_URL) REDIS_URL=$$redis $(BIN)/pytest $(PYTEST_ARGS)

test-sqlite: venv
	@echo "== test suite on SQLite =="
	@env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest $(PYTEST_ARGS)

# ruff, and the house plan: import-linter's layer contract (pyproject.toml) fails on any import
# that points up a layer, including imports inside functions.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Benchmarks on PostgreSQL; each prints its figures and exits non-zero on a missed target.
bench: bench-scim bench-scim-stale bench-mapping bench-sso bench-rows bench-workspace bench-audit bench-streams bench-retention bench-credentials bench-gateway bench-usage

# SCIM: 100k users, real gunicorn on loopback.
bench-scim: venv services
	$(BIN)/python bench/scim.py

# SCIM with stale planner statistics: a first import of 4,000 users over the API, autovacuum
# off, no ANALYZE; the same list and lookup targets.
bench-scim-stale: venv services
	$(BIN)/python bench/scim_stale.py

# Mapping engine: 10k members, 200 groups, full resync and a 1,000-member group PATCH.
bench-mapping: venv services
	$(BIN)/python bench/mapping.py

# SAML sign-in: 300 first and 300 repeat sign-ins through the ACS (pysaml2 IdP, xmlsec1).
bench-sso: venv services system-deps
	$(BIN)/python bench/sso.py

# core.rows: each hand-written statement against the ORM, and its share of a SCIM create.
bench-rows: venv services
	$(BIN)/python bench/rows.py

# The runtime's API: decisions (10k members, 2k agents, 20k shares) and run-event ingest.
bench-workspace: venv services
	$(BIN)/python bench/workspace.py

# The runtime's token endpoint (no refresh needed): real gunicorn, 4 clients.
bench-credentials: venv services
	$(BIN)/python bench/credentials.py

# The MCP gateway's overhead over direct calls to server-everything, and its calls per second.
bench-gateway: venv services oidc-provider
	$(BIN)/python bench/gateway.py

# Usage analytics over 10 million traces (BENCH_TRACES to change): each chart's reads.
bench-usage: venv services
	$(BIN)/python bench/usage.py

bench-audit: venv services
	$(BIN)/python bench/audit.py

# Audit streams: each kind delivers 200,000 sealed events to a loopback receiver.
bench-streams: venv services
	$(BIN)/python bench/streams.py

# Retention: purge expired runs and events (batches, then one DELETE) while a writer inserts;
# BENCH_RETENTION_DB=sqlite for the embedded default.
bench-retention: venv services
	$(BIN)/python bench/retention.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .schemathesis test-artifacts
