"""Timer storms (issue 10 item 8): timers due at the same instant are prepared ahead and committed
at their instant (journeys/engine/ahead.py, PostgreSQL). What must hold whatever the speed: no
timer fires twice with engines competing, none is seen fired before its instant, and only pure
timers are decided ahead. (How late they fire is measured in bench/engine.py, not here.)"""

import datetime as dt
import os
import subprocess
import sys
import threading
import time

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from channels_app.models import Channel, Message
from contacts.models import Contact
from journeys.engine import ahead
from journeys.models import Enrollment, JourneyCounter, Step
from tests.conftest import ROOT, _database_url
from tests.journeys.conftest import graph, node

pytestmark = pytest.mark.django_db(transaction=True)

STORM_GRAPH = graph(
    trigger=node("trigger.manual", {}, next="w"),
    w=node("wait.delay", {"seconds": 60}, next="m"),
    m=node("message.send", {"channel": "sms", "template": {"en": "Your reminder"}}, next="x", failed=None),
    x=node("exit"),
)


@pytest.fixture(autouse=True)
def _postgresql_only(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("timers are prepared ahead on PostgreSQL only (SQLite would hold its write lock)")
    monkeypatch.setattr(ahead, "PACE", ahead.Pace())  # this process's measured pace: not the tests'
    monkeypatch.setattr(ahead, "_counted", (None, 0, 0.0))


def waiting_at_w(workspace, journey, n, due, wait_kind="timer"):
    Contact.objects.bulk_create(
        [Contact(workspace=workspace, first_name=f"S{i}", phone=f"+447700{i:06d}") for i in range(n)]
    )
    ids = Contact.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True)
    Enrollment.objects.bulk_create(
        Enrollment(workspace=workspace, journey=journey, version=journey.live_version, contact_id=cid,
                   status="waiting", node="w", wait_kind=wait_kind, wait_until=due, due_at=due, resume_token=1,
                   entered_at=timezone.now(), waiting_since=timezone.now(), active_lock=True)
        for cid in ids
    )  # fmt: skip
    JourneyCounter.objects.create(journey=journey, node="w", key="waiting", value=n)


def fired_at_w(journey):
    return Step.objects.filter(journey=journey, node="w", exit="next")


def test_competing_engines_fire_each_timer_of_a_storm_exactly_once(workspace, publish, tmp_path):
    # given two engines running, each preparing at most 400 timers ahead
    Channel.objects.filter(workspace=workspace, kind="sms").update(rate_limit_per_second=20000)
    journey = publish(STORM_GRAPH)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cpaas.settings.test", "PYTHONUNBUFFERED": "1",
           "DATABASE_URL": _database_url(connection.settings_dict), "LOG_LEVEL": "INFO",
           "JOURNEYS_ENGINE_AHEAD_BATCH": "400"}  # fmt: skip
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    logs = [tmp_path / f"engine{i}.log" for i in (1, 2)]
    engines = [
        subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "engine"], cwd=ROOT, env=env,
                         stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
        for log in logs
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all("started" in log.read_text() for log in logs):
            time.sleep(0.1)
        # when 1,000 timers come due at the same instant (more than both can prepare: the rest
        # fire in ordinary rounds, competing for the same rows)
        due = timezone.now() + dt.timedelta(seconds=5)
        waiting_at_w(workspace, journey, 1000, due)
        deadline = time.monotonic() + 120
        while (
            time.monotonic() < deadline
            and Enrollment.objects.filter(journey=journey, status="waiting").exists()
        ):
            time.sleep(0.2)
    finally:
        for p in engines:
            if p.poll() is None:
                p.terminate()
            p.wait(timeout=30)
    # then every timer fired once: one step out of the wait, one message per contact
    assert fired_at_w(journey).count() == 1000
    assert not fired_at_w(journey).values("enrollment_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    per_contact = Message.objects.filter(journey_id=journey.pk).values("contact_id").annotate(n=Count("id"))
    assert len(per_contact) == 1000 and {row["n"] for row in per_contact} == {1}
    # as of their instant, never before it
    assert not fired_at_w(journey).filter(at__lt=due).exists()
    assert not Message.objects.filter(journey_id=journey.pk, created_at__lt=due).exists()
    assert Enrollment.objects.filter(journey=journey, status="completed").count() == 1000
    counters = dict(JourneyCounter.objects.filter(journey=journey, node="w").values_list("key", "value"))
    assert (counters["waiting"], counters["exit:next"]) == (0, 1000)
    # and the storm was prepared ahead, by both engines
    prepared = [log.read_text().count("timers prepared") for log in logs]
    assert all(prepared), [log.read_text()[-2000:] for log in logs]


def test_a_prepared_storm_is_not_seen_before_its_instant(workspace, publish):
    journey = publish(STORM_GRAPH)
    due = timezone.now() + dt.timedelta(seconds=1)
    waiting_at_w(workspace, journey, 600, due)
    seen, stop = [], threading.Event()

    def reader():  # another connection, as any other process would look
        try:
            while not stop.is_set():
                if Enrollment.objects.filter(journey=journey).exclude(status="waiting").exists():
                    seen.append(timezone.now())
                    return
                time.sleep(0.005)
        finally:
            connection.close()

    watching = threading.Thread(target=reader)
    watching.start()
    try:
        n, _calls = ahead.run_ahead(first=due)
        watching.join(timeout=10)
    finally:
        stop.set()
        watching.join()
    assert n == 600
    assert seen and seen[0] >= due
    assert set(fired_at_w(journey).values_list("at", flat=True)) == {due}
    assert Message.objects.filter(journey_id=journey.pk).count() == 600


def test_only_pure_timers_of_a_storm_are_prepared_ahead(workspace, publish):
    journey = publish(STORM_GRAPH)
    now = timezone.now()
    due = now + dt.timedelta(seconds=2)
    # a reply wait's timeout is decided at its deadline: the reply may still come
    waiting_at_w(workspace, journey, 600, due, wait_kind="reply")
    soon = due - dt.timedelta(seconds=ahead.PACE.lead(600) / 2)  # within the lead, in time
    assert ahead.storm_due(soon) is None
    assert ahead.run_ahead(first=due) == (0, [])
    Enrollment.objects.filter(journey=journey).update(wait_kind="timer")
    ahead._counted = (None, 0, 0.0)
    assert ahead.storm_due(soon) == due
    # a few timers are no storm: an ordinary round fires them at their instant
    Enrollment.objects.filter(pk__in=Enrollment.objects.filter(journey=journey).values("pk")[:200]).update(
        wait_kind="reply"
    )
    ahead._counted = (None, 0, 0.0)
    assert ahead.storm_due(soon) is None


def test_a_storm_far_ahead_waits_until_its_lead(workspace, publish, settings):
    settings.JOURNEYS_ENGINE_LOOKAHEAD_S = 60
    journey = publish(STORM_GRAPH)
    now = timezone.now()
    due = now + dt.timedelta(seconds=30)
    waiting_at_w(workspace, journey, 600, due)
    assert ahead.storm_due(now) is None  # 600 timers cost far less than 30 s
    assert ahead.storm_due(due - dt.timedelta(seconds=ahead.PACE.lead(600) / 2)) == due
    # late for the lead, it still starts at once (nearer the instant than rounds after it)
    assert ahead.storm_due(due - dt.timedelta(seconds=ahead.PACE.cost(600) / 2)) == due


def test_overdue_timers_are_left_to_ordinary_rounds(workspace, publish):
    journey = publish(STORM_GRAPH)
    due = timezone.now() + dt.timedelta(seconds=0.5)
    waiting_at_w(workspace, journey, 600, due)
    late = list(Enrollment.objects.filter(journey=journey).values_list("pk", flat=True)[:100])
    Enrollment.objects.filter(pk__in=late).update(due_at=due - dt.timedelta(seconds=5))
    assert ahead.run_ahead(first=due)[0] == 500
    assert not Enrollment.objects.filter(pk__in=late).exclude(status="waiting").exists()
