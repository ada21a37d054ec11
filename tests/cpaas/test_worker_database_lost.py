"""The task worker (django-q2's cluster with our guarded ORM broker) survives its database going
away (PostgreSQL): one log line for the incident, no dying pusher, and it runs tasks again once
the database is back."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection
from django_q.conf import Conf
from django_q.tasks import async_task

from cpaas.models import Heartbeat, RealtimeEvent
from tests import faults
from tests.conftest import ROOT, _database_url

pytestmark = pytest.mark.django_db(transaction=True)

APP = "worker-under-test"


def wait_for(check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_the_task_worker_waits_out_a_lost_database(tmp_path, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("a terminated backend is a PostgreSQL fault")
    monkeypatch.setattr(Conf, "SYNC", False)  # queue for the real worker instead of running inline
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cpaas.settings.test", "Q_SYNC": "0", "PYTHONUNBUFFERED": "1",
           "DATABASE_URL": _database_url(connection.settings_dict), "PGAPPNAME": APP}  # fmt: skip
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    log_path = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"], cwd=ROOT, env=env,
        stdout=open(log_path, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        # given a worker that ran a first task
        async_task("tests.cpaas.worker_tasks.mark", "before")
        assert wait_for(lambda: RealtimeEvent.objects.filter(group="before").exists()), log_path.read_text()
        assert wait_for(lambda: Heartbeat.objects.filter(kind="worker").exists())
        # when the database drops every connection of the worker and refuses new ones for 3 s
        with faults.database_refusing_connections() as db:
            faults.terminate(faults.backends(APP, conn=db), conn=db)
            time.sleep(3)
        # then, the database back, the worker reconnects by itself and runs the next task
        async_task("tests.cpaas.worker_tasks.mark", "during")
        assert wait_for(lambda: RealtimeEvent.objects.filter(group="during").exists()), log_path.read_text()
        assert wait_for(lambda: Heartbeat.objects.filter(kind="worker", incidents=1).exists(), 10)
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)  # the cluster stops its own processes
        try:
            worker.wait(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
    log = log_path.read_text()
    incident = [line for line in log.splitlines() if "database unavailable" in line]
    assert len(incident) == 1 and "task worker" in incident[0], log[-3000:]
    assert "reincarnated pusher" not in log and "Failed to pull task" not in log, log[-3000:]
    assert RealtimeEvent.objects.filter(group="during").count() == 1
