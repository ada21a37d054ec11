"""What every long-lived background loop shares (the dispatcher, the journey engine, the task
worker's broker): surviving its database, and saying it is alive.

A lost database (restarted, failed over, a backend terminated by an administrator) shows up as an
error of any layer: Django's wrapped errors, or the driver's own where Django does not wrap the
call (psycopg's COPY, pool time-outs). `DatabaseGuard` treats them all alike: close this thread's
connections so none is reused broken, log ONE line for the incident (not one traceback per
round), and back off exponentially until a round succeeds again. `Heartbeat` keeps one row per
process (`cpaas.models.Heartbeat`) fresh, for a health check to read.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import psycopg
from django.db import Error as DjangoDatabaseError
from django.db import InterfaceError as DjangoInterfaceError
from django.db import OperationalError as DjangoOperationalError
from django.db import connections
from django.utils import timezone

log = logging.getLogger("cpaas.loops")

# Every error that means "the database, not our code": Django's wrapped ones (InterfaceError is
# not a DatabaseError subclass, so catch their common base) and the drivers' raw ones.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (DjangoDatabaseError, psycopg.Error, sqlite3.Error)

# ...of which these mean the connection (or the server) is gone, not that a query was wrong
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    DjangoOperationalError,
    DjangoInterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0


def close_connections() -> None:
    """Drop this thread's database connections; a broken one must not serve the next round."""
    for conn in connections.all(initialized_only=True):
        try:
            if conn.in_atomic_block:  # only reachable if a caller swallowed an error inside atomic
                conn.needs_rollback = True
            conn.close()
        except Exception:  # closing a dead connection may itself fail; it is gone either way
            conn.connection = None


def describe(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:200]


class DatabaseGuard:
    """One incident lasts from the first failed round to the next good one."""

    def __init__(self, name: str, *, first_s: float | None = None, max_s: float | None = None):
        self.name = name
        self.first_s = BACKOFF_FIRST_S if first_s is None else first_s
        self.max_s = BACKOFF_MAX_S if max_s is None else max_s
        self.failures = 0
        self.since = 0.0
        self.incident = ""

    def failed(self, exc: BaseException) -> float:
        """Close connections, log the incident's one line, and return how long to wait."""
        close_connections()
        if not self.failures:
            self.since = time.monotonic()
            self.incident = describe(exc)
            if isinstance(exc, CONNECTION_ERRORS):
                log.warning(
                    "%s %s: database unavailable (%s); reconnecting with backoff (up to %.0f s between tries)",
                    self.name,
                    os.getpid(),
                    self.incident,
                    self.max_s,
                )
            else:  # a query the database refused (a constraint, bad SQL): likely a bug, so the trace
                log.error(
                    "%s %s: database error (%s); retrying with backoff", self.name, os.getpid(), self.incident,
                    exc_info=exc,
                )  # fmt: skip
        self.failures += 1
        delay = min(self.max_s, self.first_s * 2 ** (self.failures - 1))
        return delay * random.uniform(0.8, 1.2)

    def succeeded(self) -> str | None:
        """After a good round: the incident that just ended (or None), logged at debug only."""
        if not self.failures:
            return None
        log.debug(
            "%s: database back after %d tries, %.1f s",
            self.name,
            self.failures,
            time.monotonic() - self.since,
        )
        self.failures = 0
        return self.incident


class Heartbeat:
    """This process's row in cpaas_heartbeat, touched at most every EVERY_S seconds."""

    EVERY_S = 2.0
    FORGET_AFTER_S = 3600.0  # rows of processes of this host silent for this long are removed

    def __init__(self, kind: str):
        self.kind = kind
        self.host = socket.gethostname()[:255]
        self.pid = 0
        self.last = 0.0
        self.incidents = 0
        self.last_incident = ""

    def survived(self, incident: str) -> None:
        self.incidents += 1
        self.last_incident = incident[:300]
        self.last = 0.0  # write it at the next beat

    def beat(self) -> None:
        from .models import Heartbeat as Row

        clock = time.monotonic()
        if clock - self.last < self.EVERY_S and self.pid == os.getpid():
            return
        now = timezone.now()
        fields = {"beat_at": now, "incidents": self.incidents, "last_incident": self.last_incident}
        mine = Row.objects.filter(kind=self.kind, host=self.host, pid=os.getpid())
        if self.pid != os.getpid() or not mine.update(**fields):
            if self.pid != os.getpid():  # first beat of this process (or of a forked child)
                Row.objects.filter(
                    kind=self.kind, host=self.host, beat_at__lt=now - timedelta(seconds=self.FORGET_AFTER_S)
                ).delete()
            self.pid = os.getpid()
            Row.objects.update_or_create(
                kind=self.kind,
                host=self.host,
                pid=self.pid,
                defaults=fields,
                create_defaults={**fields, "started_at": now},
            )
        self.last = clock

    def stop(self) -> None:
        from .models import Heartbeat as Row

        try:
            Row.objects.filter(kind=self.kind, host=self.host, pid=os.getpid()).delete()
        except DATABASE_ERRORS:
            pass  # the row goes stale instead; a health check reads that as stopped


def run_loop(
    *,
    kind: str,
    work: Callable[[], int],
    poll: float,
    max_seconds: float = 0,
    exit_when_idle: float = 0,
) -> None:
    """Call `work()` (returns how much it did) until SIGTERM/SIGINT, sleeping `poll` seconds when
    it did nothing. A database error of any layer never ends the loop (see DatabaseGuard); any
    other exception does, and `serve` (or the outside supervisor) restarts the process."""
    stopping = threading.Event()

    def stop(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    guard = DatabaseGuard(kind)
    heartbeat = Heartbeat(kind)
    started = last_work = time.monotonic()
    from .logs import new_round

    while not stopping.is_set():
        pause = 0.0
        new_round(kind)  # this round's log lines share an id (cpaas/logs.py)
        try:
            done = work()
            ended = guard.succeeded()
            if ended:
                heartbeat.survived(ended)
            heartbeat.beat()
        except DATABASE_ERRORS as exc:
            done, pause = 0, guard.failed(exc)
        clock = time.monotonic()
        if done or guard.failures:  # waiting for the database is not idleness
            last_work = clock
        if max_seconds and clock - started >= max_seconds:
            break
        if exit_when_idle and clock - last_work >= exit_when_idle:
            break
        if pause or not done:
            stopping.wait(pause or poll)
    heartbeat.stop()
