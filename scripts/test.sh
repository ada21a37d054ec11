#!/usr/bin/env bash
# `make test`: lint, migration check, then the suite on SQLite and on PostgreSQL.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k contacts`).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PG_URL=${TEST_POSTGRES_URL:-postgres://cpaas:cpaas@127.0.0.1:5432/cpaas}
export DJANGO_SETTINGS_MODULE=cpaas.settings.test

bash scripts/provision.sh
source scripts/skips.sh

echo "== ruff"
.venv/bin/ruff check . || exit 1
.venv/bin/ruff format --check . || { echo "Code is not formatted: run '.venv/bin/ruff format .'"; exit 1; }
echo "== migrations are up to date"
DATABASE_URL=sqlite:///:memory: $PY manage.py makemigrations --check --dry-run >/dev/null || {
  echo "Models changed without a migration: run '.venv/bin/python manage.py makemigrations'"; exit 1; }
echo "== deploy checks with the production settings (HSTS, SSL redirect, cookies, CSP)"
DJANGO_SETTINGS_MODULE=cpaas.settings.production DATABASE_URL=sqlite:///:memory: \
  SECRET_KEY="$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')" ALLOWED_HOSTS=journeys.example.com \
  $PY manage.py check --deploy --fail-level WARNING || { echo "manage.py check --deploy found problems"; exit 1; }

if [ ! -x /usr/bin/chromium ]; then
  skip_or_fail "/usr/bin/chromium is missing: the browser tests (run as root on Debian to install it)"
fi

echo "== pytest on SQLite"
DATABASE_URL=sqlite:///$PWD/.test-unused.sqlite3 $PY -m pytest "$@"
sqlite_rc=$?

if $PY scripts/pg_ready.py "$PG_URL"; then
  echo "== pytest on PostgreSQL"
  DATABASE_URL=$PG_URL $PY -m pytest "$@"
  pg_rc=$?
else
  skip_or_fail "PostgreSQL is not reachable at $PG_URL: the PostgreSQL run (as root on Debian, scripts/provision.sh starts it; or set TEST_POSTGRES_URL)"
  pg_rc=0
fi

echo "== SQLite: exit $sqlite_rc; PostgreSQL: exit $pg_rc"
[ $sqlite_rc = 0 ] && [ $pg_rc = 0 ]
