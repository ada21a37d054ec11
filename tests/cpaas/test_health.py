"""/healthz and /readyz: JSON, no authentication, nothing sensitive; /readyz follows the loops'
heartbeats (real engine and dispatcher processes), the timers' lag and the dispatch backlog."""

import datetime as dt
import json
import os
import signal

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from channels_app.models import Message
from channels_app.services.messages import message_send_batch
from cpaas.health import readiness
from cpaas.models import Heartbeat
from journeys.models import Enrollment
from tests.factories import ContactFactory
from tests.topology import Topology, wait_for


def beat(kind, seconds_ago=0.0, pid=1):
    at = timezone.now() - dt.timedelta(seconds=seconds_ago)
    Heartbeat.objects.create(kind=kind, host="h", pid=pid, started_at=at, beat_at=at)


def test_healthz_answers_without_the_database_or_a_known_host():
    response = Client(HTTP_HOST="10.1.2.3:8000").get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ready_with_both_loops_beating_and_says_nothing_sensitive(settings):
    beat("engine")
    beat("dispatcher")
    settings.SECRET_KEY = "a-secret-that-must-not-show"
    response = Client(HTTP_HOST="10.1.2.3").get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert {"database", "loop.engine", "loop.dispatcher", "engine.lag_s", "dispatch.backlog_s"} <= set(
        body["checks"]
    )
    text = json.dumps(body)
    for secret in filter(None, [connection.settings_dict["NAME"], connection.settings_dict.get("PASSWORD"),
                                connection.settings_dict.get("HOST"), "a-secret-that-must-not-show"]):  # fmt: skip
        assert str(secret) not in text


@pytest.mark.django_db
def test_readyz_names_the_loop_that_is_missing_or_silent():
    beat("engine", seconds_ago=120)  # a process that stopped beating two minutes ago
    response = Client().get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["loop.engine"] == {"ok": False, "processes": 0, "last_beat_s": pytest.approx(120, abs=5)}
    assert checks["loop.dispatcher"] == {"ok": False, "processes": 0, "last_beat_s": None}
    assert checks["database"] == {"ok": True}


@pytest.mark.django_db
def test_readyz_is_unhealthy_when_timers_or_the_dispatch_backlog_fall_behind(workspace, settings):
    beat("engine")
    beat("dispatcher")
    contact = ContactFactory(workspace=workspace)
    now = timezone.now()
    # given a message that has waited ten minutes for the dispatcher
    message_send_batch(workspace=workspace, contacts=[contact], channel="sms", content={"text": "x"}, now=now)
    Message.objects.filter(workspace=workspace).update(status="queued", due_at=now - dt.timedelta(minutes=10))
    report = readiness(now)
    assert report["status"] == "unhealthy"
    assert report["checks"]["dispatch.backlog_s"] == {"ok": False, "value": pytest.approx(600, abs=2),
                                                      "limit": 300.0}  # fmt: skip
    assert report["checks"]["engine.lag_s"]["ok"] is True
    # and with a higher limit for this deployment it is ready again
    settings.HEALTH_LIMITS = {**django_settings.HEALTH_LIMITS, "dispatch.backlog_s": 900.0}
    assert readiness(now)["status"] == "ok"


@pytest.mark.django_db
def test_readyz_reports_the_engines_lag(workspace, settings):
    from tests.journeys.conftest import linear

    beat("engine")
    beat("dispatcher")
    from cpaas.tenancy import Actor
    from journeys.services import journey_create, journey_publish
    from tests.factories import UserFactory

    actor = Actor.for_user(UserFactory())
    journey = journey_create(workspace=workspace, actor=actor, name="J",
                             graph=linear(("trigger.manual", {}), ("wait.delay", {"seconds": 5})))  # fmt: skip
    journey_publish(journey=journey, actor=actor, now=timezone.now())
    contact = ContactFactory(workspace=workspace)
    now = timezone.now()
    Enrollment.objects.create(workspace=workspace, journey=journey, version=journey.versions.first(),
                              contact=contact, node="trigger", entered_at=now, due_at=now - dt.timedelta(seconds=90))  # fmt: skip
    check = readiness(now)["checks"]["engine.lag_s"]
    assert check == {"ok": False, "value": pytest.approx(90, abs=2), "limit": 60.0}


@pytest.mark.django_db
def test_readyz_is_unhealthy_when_redis_is_configured_but_unreachable(settings):
    beat("engine")
    beat("dispatcher")
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    report = readiness()
    assert report["status"] == "unhealthy"
    assert report["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}


@pytest.mark.django_db(transaction=True)
def test_readyz_turns_unhealthy_when_a_loops_heartbeat_stops_and_healthy_when_it_resumes(settings, tmp_path):
    settings.HEALTH_HEARTBEAT_STALE_S = 4.0
    client = Client()
    with Topology(tmp_path, engine=1, dispatcher=1) as topology:
        # given a running engine and dispatcher: ready
        assert wait_for(lambda: client.get("/readyz").status_code == 200, timeout=60), client.get(
            "/readyz"
        ).json()
        # when the dispatcher hangs (stopped, so it no longer beats)
        dispatcher = topology.processes["dispatcher1"]
        os.killpg(dispatcher.pid, signal.SIGSTOP)
        try:
            # then /readyz turns unhealthy, naming the dispatcher
            assert wait_for(lambda: client.get("/readyz").status_code == 503, timeout=30)
            checks = client.get("/readyz").json()["checks"]
            assert checks["loop.dispatcher"]["ok"] is False and checks["loop.engine"]["ok"] is True
        finally:
            os.killpg(dispatcher.pid, signal.SIGCONT)
        # and when it resumes, healthy again
        assert wait_for(lambda: client.get("/readyz").status_code == 200, timeout=30), client.get(
            "/readyz"
        ).json()
        topology.assert_alive()


@pytest.mark.django_db
def test_the_health_command_checks_this_hosts_loop_for_container_health_checks():
    import socket

    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="no engine process on this host"):
        call_command("health", "--loop", "engine")
    beat("engine", seconds_ago=120)  # another host's or a silent one does not count
    Heartbeat.objects.update(host=socket.gethostname())
    with pytest.raises(CommandError):
        call_command("health", "--loop", "engine")
    Heartbeat.objects.update(beat_at=timezone.now())
    call_command("health", "--loop", "engine")  # no error: beating
    with pytest.raises(CommandError, match="not ready"):  # no dispatcher: the whole report is not ready
        call_command("health")
