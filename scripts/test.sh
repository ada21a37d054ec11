#!/usr/bin/env bash
# `make test`: lint, migration check, then the suite on SQLite and on PostgreSQL.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k contacts`).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PG_URL=${TEST_POSTGRES_URL:-postgres://cpaas:cpaas@127.0.0.1:5432/cpaas}
export REDIS_TEST_PORT=${REDIS_TEST_PORT:-6399}
# The Redis-mode pass (scale-out: channel layer, task broker and cache on Redis), on PostgreSQL:
# realtime, what the inbox shows live, the task worker, several web / engine / dispatcher processes
# sharing work and limits. Database 1 of scripts/provision.sh's redis-server, flushed by the tests.
REDIS_TEST_URL=${TEST_REDIS_URL:-redis://127.0.0.1:$REDIS_TEST_PORT/1}
REDIS_TESTS=(
  tests/cpaas/test_realtime.py tests/cpaas/test_realtime_redis.py tests/api/test_scale_out.py tests/journeys/test_scale_out.py
  tests/cpaas/test_procfile.py tests/cpaas/test_health.py tests/cpaas/test_metrics.py
  tests/api/test_access.py tests/contacts/test_imports.py tests/inbox
  tests/channels_app/test_dispatcher_processes.py tests/journeys/test_processes.py
  tests/browser/test_scale_out.py tests/browser/test_realtime_worker.py tests/browser/test_inbox.py
)
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

redis_rc=0
if [ $# -gt 0 ]; then
  echo "== the Redis-mode pass runs only without arguments (make test)"
elif ! $PY scripts/pg_ready.py "$PG_URL"; then
  echo "== the Redis-mode pass needs PostgreSQL: SKIPPED (see above)"
elif ! $PY -c "import redis, sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2).ping()" "$REDIS_TEST_URL" 2>/dev/null; then
  skip_or_fail "redis-server is not reachable at $REDIS_TEST_URL: the Redis-mode pass (scripts/provision.sh starts one on port $REDIS_TEST_PORT; or set TEST_REDIS_URL)"
else
  echo "== pytest in Redis mode on PostgreSQL ($REDIS_TEST_URL)"
  DATABASE_URL=$PG_URL REDIS_URL=$REDIS_TEST_URL PG_TEST_DB=test_cpaas_redis $PY -m pytest "${REDIS_TESTS[@]}"
  redis_rc=$?
fi

echo "== SQLite: exit $sqlite_rc; PostgreSQL: exit $pg_rc; Redis mode: exit $redis_rc"
[ $sqlite_rc = 0 ] && [ $pg_rc = 0 ] && [ $redis_rc = 0 ]
