"""The dispatcher process survives its database going away (PostgreSQL): its backend is
terminated and every new connection refused for a while, then it reconnects by itself, logs one
line for the incident (no traceback per retry) and sends what was queued meanwhile, once."""

import os
import signal
import time

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from channels_app.models import Channel, SandboxDelivery
from channels_app.services.messages import message_send_batch
from cpaas.models import Heartbeat
from tests import faults
from tests.factories import ContactFactory

from .conftest import start_dispatcher

pytestmark = pytest.mark.django_db(transaction=True)

APP = "dispatcher-under-test"


def wait_for(check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def send(workspace, contacts, text):
    messages, _ = message_send_batch(
        workspace=workspace, contacts=contacts, channel="sms", content={"text": text}, now=timezone.now()
    )
    return messages


def test_the_dispatcher_waits_out_a_lost_database_and_then_sends(workspace, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("a terminated backend is a PostgreSQL fault")
    Channel.objects.filter(workspace=workspace, kind="sms").update(rate_limit_per_second=10000)
    contacts = ContactFactory.create_batch(120, workspace=workspace)
    log_path = tmp_path / "dispatcher.log"
    dispatcher = start_dispatcher(log_path, PGAPPNAME=APP)
    try:
        # given a dispatcher that has sent a first wave and sits idle
        send(workspace, contacts[:60], "first")
        assert wait_for(lambda: SandboxDelivery.objects.count() == 60), log_path.read_text()[-3000:]
        # when the database drops its connection and refuses new ones for 3 s, while a second
        # wave is queued (through a connection that was open before)
        with faults.database_refusing_connections() as db:
            faults.terminate(faults.backends(APP, conn=db), conn=db)
            send(workspace, contacts[60:], "second")
            time.sleep(3)
            assert dispatcher.poll() is None, log_path.read_text()[-3000:]
        # then the dispatcher reconnects by itself and sends the second wave, each message once
        assert wait_for(lambda: dispatcher.poll() is not None or SandboxDelivery.objects.count() == 120)
        assert dispatcher.poll() is None, log_path.read_text()[-3000:]
        # ...and its heartbeat row tells a health check it is alive and survived one incident
        mine = Heartbeat.objects.filter(kind="dispatcher", pid=dispatcher.pid)
        assert wait_for(lambda: mine.filter(incidents=1).exists(), timeout=10)
        assert "OperationalError" in mine.get().last_incident
    finally:
        if dispatcher.poll() is None:
            os.killpg(dispatcher.pid, signal.SIGTERM)
        dispatcher.wait(timeout=30)
    per_message = SandboxDelivery.objects.values("reference").annotate(n=Count("id"))
    assert len(per_message) == 120 and {row["n"] for row in per_message} == {1}
    # ...having said so in one line, not a traceback per retry
    log = log_path.read_text()
    incident = [line for line in log.splitlines() if "database unavailable" in line]
    assert len(incident) == 1 and "dispatcher" in incident[0], log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    # and a clean stop removes its heartbeat
    assert not Heartbeat.objects.filter(kind="dispatcher", pid=dispatcher.pid).exists()


def test_a_backend_terminated_in_the_middle_of_a_dispatch_round_does_not_stop_the_dispatcher(
    workspace, tmp_path
):
    """The connection dies while the round writes what the provider accepted: the dispatcher
    lives on, and the claimed messages are taken again when their lease runs out (the sandbox
    is idempotent by reference), so each is delivered exactly once."""
    if connection.vendor != "postgresql":
        pytest.skip("a terminated backend is a PostgreSQL fault")
    Channel.objects.filter(workspace=workspace, kind="sms").update(rate_limit_per_second=10000)
    contacts = ContactFactory.create_batch(100, workspace=workspace)
    log_path = tmp_path / "dispatcher.log"
    # given 100 queued messages and the provider's delivery table locked, so the round's write
    # of what the provider accepted waits where we can see it
    send(workspace, contacts, "hello")
    with faults.table_locked(SandboxDelivery._meta.db_table):
        dispatcher = start_dispatcher(log_path, PGAPPNAME=APP, CHANNELS_LEASE_S=2, CHANNELS_SEND_DEADLINE_S=1)
        try:
            # when an administrator terminates the dispatcher's backend while it waits
            faults.terminate(faults.wait_for_backend(APP, waiting_on_lock=True))
            time.sleep(0.3)
        except BaseException:
            os.killpg(dispatcher.pid, signal.SIGKILL)
            raise
    try:
        # then the dispatcher lives on and every message is delivered, once
        assert wait_for(lambda: dispatcher.poll() is not None or SandboxDelivery.objects.count() == 100)
        assert dispatcher.poll() is None, log_path.read_text()[-3000:]
    finally:
        if dispatcher.poll() is None:
            os.killpg(dispatcher.pid, signal.SIGTERM)
        dispatcher.wait(timeout=30)
    per_message = SandboxDelivery.objects.values("reference").annotate(n=Count("id"))
    assert len(per_message) == 100 and {row["n"] for row in per_message} == {1}
    incident = [line for line in log_path.read_text().splitlines() if "database unavailable" in line]
    assert len(incident) == 1, log_path.read_text()[-3000:]
