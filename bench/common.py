"""What the PostgreSQL benches share: a fresh database migrated by the app, the raw single-row
INSERT rate that every figure is compared with (measured in the same run), and stopping the
processes a bench started. Imported as `common` (a bench runs as `python bench/<name>.py`)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _admin_url(url: str) -> tuple[str, str]:
    base, name = url.rsplit("/", 1)
    return f"{base}/postgres", name


def drop_database(url: str) -> None:
    import psycopg

    admin, name = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def recreate_database(url: str, env: dict) -> None:
    """Drop and create the bench's database, then migrate it with the app (env names it)."""
    import psycopg

    drop_database(url)
    admin, name = _admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)


def raw_insert_rate(url: str, seconds: float = 3.0) -> float:
    """Single-row INSERTs, each its own transaction (autocommit), one connection: the yardstick."""
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_rows (id bigserial primary key, a int, b text, at timestamptz)"
        )
        n, start = 0, time.monotonic()
        while time.monotonic() - start < seconds:
            conn.execute("INSERT INTO bench_rows (a, b, at) VALUES (%s, %s, now())", (n, "x" * 40))
            n += 1
        elapsed = time.monotonic() - start
        conn.execute("DROP TABLE bench_rows")
    return n / elapsed


def stop(processes) -> None:
    """Terminate, wait up to 30 s each, then kill what is left."""
    for p in processes:
        if p.poll() is None:
            p.terminate()
    for p in processes:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
