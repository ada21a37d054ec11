"""Database faults for process tests (PostgreSQL): find a process's backends by its
application name (a subprocess started with PGAPPNAME=<name>), terminate them as an
administrator would, hold a table lock so a statement waits where we want it, or refuse every
new connection for a while (a database restart, seen from the app)."""

from __future__ import annotations

import contextlib
import time

import psycopg
from django.db import connection


def _conninfo(dbname: str | None = None) -> str:
    s = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=dbname or s["NAME"], user=s["USER"], password=s["PASSWORD"], host=s["HOST"] or "127.0.0.1",
        port=s["PORT"] or 5432, application_name="test-faults",
    )  # fmt: skip


def admin() -> psycopg.Connection:
    """A connection outside Django's (autocommit), to the test database."""
    return psycopg.connect(_conninfo(), autocommit=True)


def backends(app: str, *, query_prefix: str = "", waiting_on_lock: bool = False, conn=None) -> list[int]:
    sql = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s"
    params: list = [app]
    if query_prefix:
        sql += " AND state = 'active' AND query ILIKE %s"
        params.append(query_prefix + "%")
    if waiting_on_lock:
        sql += " AND wait_event_type = 'Lock'"
    with contextlib.ExitStack() as stack:
        conn = conn or stack.enter_context(admin())
        return [row[0] for row in conn.execute(sql, params)]


def terminate(pids: list[int], conn=None) -> None:
    with contextlib.ExitStack() as stack:
        conn = conn or stack.enter_context(admin())
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", [pid])


def wait_for_backend(app: str, timeout: float = 60, **filters) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = backends(app, **filters)
        if pids:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"no backend of {app!r} matching {filters} within {timeout} s")


@contextlib.contextmanager
def table_locked(table: str):
    """Hold an EXCLUSIVE lock on `table`: reads go on, writes (INSERT, COPY) wait for us."""
    conn = psycopg.connect(_conninfo())
    try:
        conn.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
        yield conn
    finally:
        conn.rollback()
        conn.close()


@contextlib.contextmanager
def database_refusing_connections():
    """No new connection to the test database succeeds until the block ends (existing ones
    live on: the caller terminates the ones it wants gone, through the connection yielded)."""
    name = connection.settings_dict["NAME"]
    with psycopg.connect(_conninfo("postgres"), autocommit=True) as conn, admin() as inside:
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        try:
            yield inside  # an open connection, for backends() and terminate()
        finally:
            conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
