"""cpaas.loops: a loop survives database errors of every layer (Django's, psycopg's raw ones,
sqlite3's), logs one line per incident, backs off, and keeps a heartbeat row."""

import signal
import sqlite3

import psycopg
import pytest
from django.db import InterfaceError, OperationalError

from cpaas import loops
from cpaas.models import Heartbeat

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fast_backoff_and_own_signals(monkeypatch):
    monkeypatch.setattr(loops, "BACKOFF_FIRST_S", 0.01)
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGINT, handlers[0])
    signal.signal(signal.SIGTERM, handlers[1])


def test_a_loop_survives_every_kind_of_database_error_with_one_line_per_incident(caplog):
    # given a round that fails four times in a row with errors of each layer, then works, then
    # fails once more
    errors = [
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        InterfaceError("connection already closed"),  # not a django DatabaseError subclass
        OperationalError("server closed the connection unexpectedly\n\tThis probably means..."),
        sqlite3.OperationalError("database is locked"),
        None,
        psycopg.OperationalError("connection refused"),
    ]
    rounds = []

    def work():
        rounds.append(1)
        error = errors.pop(0) if errors else None
        if error:
            raise error
        return 0

    # when the loop runs for a moment
    with caplog.at_level("DEBUG", logger="cpaas.loops"):
        loops.run_loop(kind="tester", work=work, poll=0.01, max_seconds=1.0)

    # then it went on after every error, and logged one warning line per incident (two)
    assert not errors and len(rounds) > 6
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2, [r.getMessage() for r in warnings]
    assert "AdminShutdown: terminating connection" in warnings[0].getMessage()
    assert "OperationalError: connection refused" in warnings[1].getMessage()
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in warnings)


def test_the_heartbeat_row_lives_while_the_loop_runs_and_goes_when_it_stops():
    seen = []

    def work():
        seen.append(list(Heartbeat.objects.filter(kind="tester").values_list("incidents", flat=True)))
        if len(seen) == 2:
            raise OperationalError("gone")
        return 0

    loops.run_loop(kind="tester", work=work, poll=0.05, max_seconds=0.5)
    # the first round beat after its work; later rounds saw the row, with the incident counted
    assert seen[0] == [] and seen[1] == [0] and [1] in seen[3:]
    assert not Heartbeat.objects.filter(kind="tester").exists()


def test_a_non_database_error_ends_the_loop_for_the_supervisor_to_restart():
    def work():
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        loops.run_loop(kind="tester", work=work, poll=0.01, max_seconds=1.0)


def test_a_refused_query_is_retried_too_but_logged_as_an_error_with_its_trace(caplog):
    from django.db import IntegrityError

    errors = [IntegrityError("duplicate key value violates unique constraint"), None]

    def work():
        error = errors.pop(0) if errors else None
        if error:
            raise error
        return 0

    with caplog.at_level("WARNING", logger="cpaas.loops"):
        loops.run_loop(kind="tester", work=work, poll=0.01, max_seconds=0.3)
    (record,) = [r for r in caplog.records if r.name == "cpaas.loops"]
    assert record.levelname == "ERROR" and "database error (IntegrityError" in record.getMessage()
    assert record.exc_info is not None
