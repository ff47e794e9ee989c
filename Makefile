# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# DATABASE_URL wins; otherwise the embedded cluster in ./.pgdata is started (made once).
DB_URL = $${DATABASE_URL:-$$($(BIN)/python -m app.embedded_pg start)}

.PHONY: install run migrate prices demo test bench bench-scaling fuzz soak check-migrations db-stop clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet -e ./client  # the Python client (client/), which the tests use
	touch $@

## Start the service on http://$(HOST):$(PORT): migrate, load the price catalog, serve.
run: install
	@set -e; export DATABASE_URL="$(DB_URL)"; \
	echo "database: $$DATABASE_URL"; \
	$(BIN)/alembic upgrade head; \
	$(BIN)/flask --app wsgi costs prices sync; \
	echo "API key (local platform admin, kept in .ledger-key): $$($(BIN)/flask --app wsgi costs keys local)"; \
	echo "  try: curl -H \"Authorization: Bearer \$$(cat .ledger-key)\" http://$(HOST):$(PORT)/api/costs/summary"; \
	echo "dashboard: http://$(HOST):$(PORT)/ (sign in with that key); API reference: http://$(HOST):$(PORT)/docs"; \
	test -s .ledger-webhook-secret || $(BIN)/python -c 'import secrets; print(secrets.token_hex(32))' > .ledger-webhook-secret; \
	export WEBHOOK_SECRET="$${WEBHOOK_SECRET:-$$(cat .ledger-webhook-secret)}"; \
	echo "budget alerts are signed with WEBHOOK_SECRET (kept in .ledger-webhook-secret)"; \
	exec $(BIN)/gunicorn --config python:app.gunicorn_conf --bind $(HOST):$(PORT) --access-logfile - wsgi:app

## Apply migrations only.
migrate: install
	@export DATABASE_URL="$(DB_URL)"; $(BIN)/alembic upgrade head

## Load demo traffic (CALLS=20000 by default) into the same database `make run` uses.
demo: install
	@set -e; export DATABASE_URL="$(DB_URL)"; \
	$(BIN)/alembic upgrade head; \
	$(BIN)/flask --app wsgi costs prices sync; \
	$(BIN)/flask --app wsgi costs demo --calls $${CALLS:-20000}

## Run the test suite against a real PostgreSQL (see tests/conftest.py for how one is chosen).
test: install
	$(BIN)/pytest $(PYTEST_ARGS)

## Benchmark (issue #4; bench/, beside the product, not installed with it): BENCH_CALLS calls (default
## 1,000,000) in a fresh throwaway cluster, or a fresh database in BENCH_DATABASE_URL's server;
## BENCH_KEEP=1 keeps it. See bench/__init__.py.
bench: install
	BENCH_CALLS=$${BENCH_CALLS:-1000000} $(BIN)/python -m bench

## How analytics cost grows with the data's shape: BENCH_SCALING_CALLS (1M, 3M) × BENCH_SCALING_USERS
## (1,000, 10,000, 50,000), one fresh database each, questions ours vs naive. See bench/scaling.py.
bench-scaling: install
	$(BIN)/python -m bench.scaling

## Schemathesis against /openapi.json of a fresh, authenticated service for FUZZ_SECONDS (default 300):
## no 5xx and every answer as documented. See bench/fuzz.py.
fuzz: install
	$(BIN)/pip install --quiet -e '.[fuzz]'
	$(BIN)/python -m bench.fuzz

## A bounded mixed load (single and batch ingest, every analytics read) through gunicorn for
## SOAK_SECONDS (default 600): errors, p50/p95/p99 per endpoint, worker memory. See bench/soak.py.
soak: install
	$(BIN)/python -m bench.soak

db-stop:
	@$(BIN)/python -m app.embedded_pg stop

clean: db-stop
	rm -rf $(VENV) .pgdata .pytest_cache

## The month-end forecast (app/insight/forecast.py) asked as of past days: BACKTEST_CALLS (2,000,000) calls over
## BACKTEST_MONTHS (6) months of growing, noisy, spiky traffic; MAPE per cut-off day. See bench/backtest.py.
.PHONY: backtest
backtest: install
	$(BIN)/python -m bench.backtest

## Front-end files from the npm registry (package.json, package-lock.json), copied into app/ and
## committed: `make run` and `make test` need no npm. Run after changing package.json.
.PHONY: assets
assets:
	npm ci --ignore-scripts --no-audit --no-fund
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
	   node_modules/swagger-ui-dist/LICENSE node_modules/swagger-ui-dist/NOTICE app/reference/static/swagger-ui/
	node -e 'console.log("swagger-ui-dist " + require("swagger-ui-dist/package.json").version)' \
	   > app/reference/static/swagger-ui/VERSION

## Screenshots of the dashboard's pages and of /docs into docs/screenshots/ (docs/screenshots.py):
## a fresh database with the demo's calls, a real gunicorn, Debian's chromium.
.PHONY: screenshots
screenshots: install
	$(BIN)/python docs/screenshots.py

## How soon the dashboard's overview shows spend (first meaningful paint, every card, each API
## request) on DASHBOARD_DATABASE_URL, e.g. a kept 10M-call benchmark database. See bench/dashboard.py.
.PHONY: bench-dashboard
bench-dashboard: install
	$(BIN)/python -m bench.dashboard

## The Python client's cost on the caller's path (track() against a synchronous POST per call) and
## OTLP ingest against the batch API, one fresh database and gunicorn. See bench/clients.py.
.PHONY: bench-clients
bench-clients: install
	$(BIN)/python -m bench.clients
