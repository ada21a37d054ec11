"""The engine process survives its database: a backend terminated in the middle of a round's
COPY (a raw psycopg error before, which killed the process), and a database that refuses
connections for a while. It logs one line per incident and finishes the work (PostgreSQL)."""

import time

import pytest
from django.db import connection

from cpaas.models import Heartbeat
from journeys.models import Enrollment, Step
from journeys.services import journey_start
from tests import faults
from tests.journeys.conftest import linear
from tests.journeys.test_processes import make_contacts, start, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

APP = "engine-under-test"


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("terminating a backend is a PostgreSQL fault; SQLite has no server connection")


def _journey(workspace, publish, actor, n):
    ids = make_contacts(workspace, n)
    journey = publish(linear(("trigger.manual", {}), ("wait.delay", {"seconds": 1})))
    journey_start(journey=journey, actor=actor, contact_ids=ids)
    return journey


def _all_done(journey, n):
    return (
        Enrollment.objects.filter(journey=journey).count() == n
        and not Enrollment.objects.filter(journey=journey, status__in=Enrollment.OPEN).exists()
    )


def _incident_lines(log):
    return [line for line in log.splitlines() if "database unavailable" in line]


def test_a_backend_terminated_during_the_engines_copy_does_not_stop_it(workspace, publish, actor, tmp_path):
    # given 400 enrolments waiting for an engine, and the steps table locked so the engine's
    # COPY of a round's steps waits where we can see it
    journey = _journey(workspace, publish, actor, 400)
    log_path = tmp_path / "engine.log"
    with faults.table_locked(Step._meta.db_table):
        engine = start("engine", log_path, "--batch", "100", env={"PGAPPNAME": APP})
        try:
            # when an administrator terminates the engine's backend in the middle of that COPY
            pids = faults.wait_for_backend(APP, query_prefix="COPY", waiting_on_lock=True)
            faults.terminate(pids)
            time.sleep(0.3)
        except BaseException:
            stop(engine)
            raise
    try:
        # then the engine lives on, reconnects and finishes every enrolment
        assert wait_for(lambda: engine.poll() is not None or _all_done(journey, 400), timeout=90), (
            log_path.read_text()[-3000:]
        )
        assert engine.poll() is None, log_path.read_text()[-3000:]
        assert Heartbeat.objects.filter(kind="engine", pid=engine.pid).exists()
    finally:
        stop(engine)
    log = log_path.read_text()
    # ...having said so once, in one line, without a traceback
    assert len(_incident_lines(log)) == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert "AdminShutdown" in _incident_lines(log)[0] or "terminat" in _incident_lines(log)[0]
    # each contact walked the journey once
    assert Step.objects.filter(journey=journey, node="end").count() == 400


def test_the_engine_waits_out_a_database_that_refuses_connections(workspace, publish, actor, tmp_path):
    # given an engine at work on 2,000 enrolments
    journey = _journey(workspace, publish, actor, 2000)
    log_path = tmp_path / "engine.log"
    engine = start("engine", log_path, "--batch", "100", env={"PGAPPNAME": APP})
    try:
        assert wait_for(lambda: Step.objects.filter(journey=journey).exists(), timeout=60)
        # when the database goes away for 3 s (every new connection refused, its backend killed)
        with faults.database_refusing_connections() as db:
            faults.terminate(faults.backends(APP, conn=db), conn=db)
            time.sleep(3)
        # then the engine comes back by itself and finishes the work
        assert wait_for(lambda: engine.poll() is not None or _all_done(journey, 2000), timeout=120), (
            log_path.read_text()[-3000:]
        )
        assert engine.poll() is None
        assert wait_for(
            lambda: Heartbeat.objects.filter(kind="engine", pid=engine.pid, incidents=1).exists(), 10
        )
    finally:
        stop(engine)
    log = log_path.read_text()
    assert len(_incident_lines(log)) == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert Step.objects.filter(journey=journey, node="end").count() == 2000
