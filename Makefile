# Two commands set everything up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install lint migrate demo bench clean

$(STAMP): pyproject.toml scripts/requirements.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PYTHON) scripts/requirements.py dev > $(VENV)/requirements.txt
	@$(PY) -m pip install -q -r $(VENV)/requirements.txt
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

# The whole suite: lint, migrations check, then pytest on SQLite and on PostgreSQL,
# browser tests included (headless Debian Chromium).
test: install
	@bash scripts/test.sh

lint: install
	$(VENV)/bin/ruff check .

bench: install
	@for f in bench/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 db.sqlite3-wal db.sqlite3-shm
