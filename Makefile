# Two commands set everything up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run scale test install lint migrate demo bench clean lock audit

# Installs exactly the hashed lock file (requirements-dev.lock: the app's and the tests' packages;
# requirements.lock: the app's only, for production and the Dockerfile). `make lock` refreshes both
# after a pin changes in pyproject.toml; tests/test_lock.py fails while they disagree.
$(STAMP): requirements-dev.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q --require-hashes -r requirements-dev.lock
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py demo_data

# The app on http://127.0.0.1:8000 with a worker, on SQLite unless DATABASE_URL says otherwise.
run: demo
	@$(PY) manage.py collectstatic --noinput -v0
	@$(PY) manage.py serve

# The scale-out topology (Procfile, docs/operations.md): web x2 on PORT and PORT+1, engine x2,
# dispatcher x2, the task worker. Needs DATABASE_URL (PostgreSQL) and REDIS_URL.
scale: migrate
	@test -n "$$DATABASE_URL" && test -n "$$REDIS_URL" || { echo "make scale needs DATABASE_URL (PostgreSQL) and REDIS_URL"; exit 1; }
	@$(PY) manage.py collectstatic --noinput -v0
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) scripts/procfile.py start -f Procfile \
		-c web=2,engine=2,dispatcher=2,worker=1 -p $${PORT:-8000}

# The whole suite: lint, migrations check, then pytest on SQLite and on PostgreSQL,
# browser tests included (headless Debian Chromium).
test: install
	@bash scripts/test.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Resolve pyproject.toml's pins (and their dependencies) again into the two hashed lock files.
lock: install
	@bash scripts/lock.sh

# Known vulnerabilities in the locked packages. Needs PyPI's JSON API or osv.dev: where neither is
# reachable pip-audit cannot look a package up, and --strict makes that a failure, not a false "clean".
audit: install
	@$(PY) -m pip install -q pip-audit==2.10.1
	$(VENV)/bin/pip-audit --strict --disable-pip --no-deps -r requirements.lock

bench: install
	@for f in bench/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 db.sqlite3-wal db.sqlite3-shm
