"""Test settings. The database comes from DATABASE_URL (the Makefile runs the suite once on
SQLite and once on PostgreSQL). Browser tests run a real ASGI server and worker in
subprocesses, so the SQLite test database is a file they can share."""

import os
import tempfile

from .base import *  # noqa: F401,F403
from .base import DATABASES, Q_CLUSTER, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test log-ins

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file per pytest process (not :memory:) so server subprocesses see the same data.
    DATABASES["default"]["TEST"] = {
        "NAME": env(
            "SQLITE_TEST_DB", default=os.path.join(tempfile.gettempdir(), f"cpaas-test-{os.getpid()}.sqlite3")
        )
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # a kept connection stalls test-db teardown
    DATABASES["default"]["TEST"] = {"NAME": env("PG_TEST_DB", default="test_cpaas")}

# Tasks run inline unless a test (or a worker subprocess, Q_SYNC=0) says otherwise.
Q_CLUSTER = {**Q_CLUSTER, "sync": env.bool("Q_SYNC", default=True), "poll": 0.05}
REALTIME_RELAY_INTERVAL = 0.05

# webhook.call refuses private and loopback addresses; the tests' fake servers listen on 127.0.0.1
JOURNEYS_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
# and the local servers that play providers too
CHANNELS_PROVIDER_ALLOWED_NETWORKS = ["127.0.0.1/32", "::1/128"]
