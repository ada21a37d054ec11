"""Exit 0 when the PostgreSQL URL accepts a connection within 3 seconds."""

import sys

import psycopg

try:
    url = sys.argv[1].replace("postgres://", "postgresql://", 1)
    psycopg.connect(url, connect_timeout=3).close()
except Exception as exc:  # any failure means "not reachable": the caller says so loudly
    print(f"[pg_ready] {exc}".strip())
    sys.exit(1)
