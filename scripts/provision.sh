#!/usr/bin/env bash
# Make sure the test run has what it needs: Debian's Chromium, a running PostgreSQL with the test
# role, and a redis-server on REDIS_TEST_PORT for the Redis-mode pass. Installs only as root on
# Debian; otherwise says loudly what is missing.
set -u
PG_USER=${PG_USER:-cpaas}
PG_PASSWORD=${PG_PASSWORD:-cpaas}
PG_DB=${PG_DB:-cpaas}   # the database scripts/pg_ready.py connects to (tests create their own beside it)
REDIS_TEST_PORT=${REDIS_TEST_PORT:-6399}  # a fixed port of its own, not 6379: a machine's Redis is left alone

say() { echo "[provision] $*"; }
is_root() { [ "$(id -u)" = "0" ]; }
apt_updated=0
apt_install() {
  if ! is_root || ! command -v apt-get >/dev/null; then return 1; fi
  if [ $apt_updated = 0 ]; then apt-get update -qq >/dev/null 2>&1; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

if [ ! -x /usr/bin/chromium ]; then
  say "Chromium is missing; installing Debian's package"
  apt_install chromium || say "!!! could not install chromium (not root or no apt): browser tests will be SKIPPED"
fi

if ! command -v pg_lsclusters >/dev/null; then
  say "PostgreSQL is missing; installing Debian's package"
  apt_install postgresql || say "!!! could not install postgresql: the PostgreSQL run will be SKIPPED"
fi

if command -v pg_lsclusters >/dev/null && is_root; then
  if [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
    version=$(ls /usr/lib/postgresql | sort -n | tail -1)
    say "creating PostgreSQL cluster $version/main"
    pg_createcluster "$version" main >/dev/null 2>&1
  fi
  pg_lsclusters -h | while read -r ver name port status rest; do
    if [ "$status" != "online" ]; then
      say "starting PostgreSQL $ver/$name"
      pg_ctlcluster "$ver" "$name" start || say "!!! could not start PostgreSQL $ver/$name"
    fi
  done
  su postgres -c "psql -q -tAc \"SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'\"" 2>/dev/null | grep -q 1 ||
    su postgres -c "psql -q -c \"CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD'\"" >/dev/null 2>&1 ||
    say "!!! could not create the PostgreSQL role $PG_USER"
  su postgres -c "psql -q -tAc \"SELECT 1 FROM pg_database WHERE datname='$PG_DB'\"" 2>/dev/null | grep -q 1 ||
    su postgres -c "psql -q -c \"CREATE DATABASE $PG_DB OWNER $PG_USER\"" >/dev/null 2>&1 ||
    say "!!! could not create the PostgreSQL database $PG_DB"
fi

if ! command -v redis-server >/dev/null; then
  say "redis-server is missing; installing Debian's package"
  apt_install redis-server || say "!!! could not install redis-server: the Redis-mode pass will be SKIPPED"
fi
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
  if ! redis-cli -p "$REDIS_TEST_PORT" ping >/dev/null 2>&1; then
    say "starting redis-server on 127.0.0.1:$REDIS_TEST_PORT (no persistence)"
    # Debian's package starts nothing here (no systemd); this one is the test run's own: localhost
    # only, nothing saved, a log file so a failure to start can be read.
    redis-server --port "$REDIS_TEST_PORT" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
      --pidfile "/tmp/redis-test-$REDIS_TEST_PORT.pid" --logfile "/tmp/redis-test-$REDIS_TEST_PORT.log" ||
      say "!!! could not start redis-server (see /tmp/redis-test-$REDIS_TEST_PORT.log)"
    for _ in 1 2 3 4 5 6 7 8 9 10; do redis-cli -p "$REDIS_TEST_PORT" ping >/dev/null 2>&1 && break; sleep 0.2; done
  fi
fi
exit 0
