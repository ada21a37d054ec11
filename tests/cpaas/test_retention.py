"""Retention (cpaas/retention.py): each workspace's periods delete exactly the messages, steps and
events older than them, in batches, and what the product counts survives."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_q.models import Schedule

from channels_app.models import Message, MessageStatusEvent
from contacts.models import Contact, Event
from cpaas import retention
from cpaas.models import AuditEntry, RealtimeEvent
from cpaas.tenancy import Actor
from journeys.models import Enrollment, JourneyCounter, Step
from tests.journeys.conftest import linear

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _life(workspace, ages):
    """For each age: a contact signs up (an event) that many days before NOW, a journey greets
    them by SMS (steps, a message with its status history). Returns the contacts by age."""
    from contacts.services import event_record
    from journeys.engine import run_pending
    from journeys.services import journey_create, journey_publish

    actor = Actor.system("test")
    journey = journey_create(
        workspace=workspace, actor=actor, name="Welcome",
        graph=linear(
            ("trigger.event", {"event": "signup"}),
            ("message.send", {"channel": "sms", "purpose": "transactional", "template": {"en": "Welcome"}}),
        ),
    )  # fmt: skip
    journey_publish(journey=journey, actor=actor, now=NOW - 400 * DAY)
    people = {}
    for n, age in enumerate(ages):
        at = NOW - age
        contact = Contact.objects.create(workspace=workspace, phone=f"+4477009001{n:02d}", first_name=f"P{n}")
        event_record(workspace=workspace, contact=contact, name="signup", now=at, occurred_at=at)
        run_pending(now=at)
        people[age] = contact
    return journey, people


def _rows(workspace):
    return {
        "messages": Message.objects.filter(workspace=workspace).count(),
        "steps": Step.objects.filter(journey__workspace=workspace).count(),
        "events": Event.objects.filter(workspace=workspace).count(),
    }


@pytest.mark.django_db
def test_a_period_deletes_exactly_what_is_older_than_it(workspace, other_workspace):
    # given rows 31 days old, 30 days less a second old, and 29 days old, in two workspaces
    ages = [31 * DAY, 30 * DAY - dt.timedelta(seconds=1), 29 * DAY]
    _, people = _life(workspace, ages)
    _life(other_workspace, ages)
    old = people[31 * DAY]
    assert (
        Message.objects.filter(contact=old).exists() and Step.objects.filter(enrollment__contact=old).exists()
    )
    before = _rows(workspace)
    # when the workspace keeps each kind for 30 days (the other workspace sets nothing)
    workspace.retention_messages_days = workspace.retention_steps_days = workspace.retention_events_days = 30
    workspace.save()
    deleted = retention.purge(now=NOW)
    # then only the 31-day-old person's rows are gone, and nothing of the other workspace
    assert not Message.objects.filter(contact=old).exists()
    assert not MessageStatusEvent.objects.filter(message__contact=old).exists()
    assert not Step.objects.filter(enrollment__contact=old).exists()
    assert not Event.objects.filter(contact=old).exists()
    after = _rows(workspace)
    labels = {"messages": "channels_app.Message", "steps": "journeys.Step", "events": "contacts.Event"}
    assert deleted[workspace.pk] == {labels[kind]: before[kind] - after[kind] for kind in labels}
    for younger in ages[1:]:
        assert Message.objects.filter(contact=people[younger]).exists()
        assert Step.objects.filter(enrollment__contact=people[younger]).exists()
        assert Event.objects.filter(contact=people[younger]).exists()
    assert _rows(other_workspace) == before
    assert other_workspace.pk not in deleted
    # and the purge is in the audit log with its counts, and no personal data
    entry = AuditEntry.objects.get(workspace=workspace, action="retention.purged")
    assert entry.data["deleted"] == deleted[workspace.pk]
    assert "+44" not in str(entry.data) and "P0" not in str(entry.data)


@pytest.mark.django_db
def test_each_kind_has_its_own_period_and_blank_keeps_everything(workspace):
    _, people = _life(workspace, [100 * DAY])
    before = _rows(workspace)
    assert retention.purge(now=NOW) == {}
    assert _rows(workspace) == before
    workspace.retention_events_days = 60
    workspace.save()
    retention.purge(now=NOW)
    assert _rows(workspace) == {**before, "events": before["events"] - 1}


@pytest.mark.django_db
def test_it_deletes_in_batches_and_the_canvas_counters_and_enrolments_survive(workspace, monkeypatch):
    journey, people = _life(workspace, [40 * DAY] * 5)
    counters = list(JourneyCounter.objects.filter(journey=journey).values_list("node", "key", "value"))
    enrolments = Enrollment.objects.filter(journey=journey).count()
    assert counters and enrolments == 5
    monkeypatch.setattr(retention, "BATCH", 2)
    workspace.retention_messages_days = workspace.retention_steps_days = 30
    workspace.save()
    with CaptureQueriesContext(connection) as queries:
        retention.purge(now=NOW)
    deletes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('DELETE FROM "channels_app_message"')
    ]
    assert len(deletes) == 3  # 2 + 2 + 1 messages, one short transaction each
    assert _rows(workspace)["messages"] == 0 and _rows(workspace)["steps"] == 0
    assert (
        list(JourneyCounter.objects.filter(journey=journey).values_list("node", "key", "value")) == counters
    )
    assert Enrollment.objects.filter(journey=journey).count() == 5


@pytest.mark.django_db
def test_a_run_out_of_time_stops_between_batches_and_the_next_run_finishes(workspace, monkeypatch):
    _life(workspace, [40 * DAY] * 3)
    monkeypatch.setattr(retention, "BATCH", 1)
    workspace.retention_messages_days = 30
    workspace.save()
    clock = iter([0.0, 0.0, 0.5, 2.0] + [2.0] * 50)  # the deadline passes after the first batch
    monkeypatch.setattr(retention.time, "monotonic", lambda: next(clock))
    retention.purge(now=NOW, budget_s=1.0)
    assert _rows(workspace)["messages"] == 2
    monkeypatch.undo()
    retention.purge(now=NOW)
    assert _rows(workspace)["messages"] == 0


@pytest.mark.django_db
def test_the_rollups_keep_the_purged_days(workspace):
    from analytics.rollups import rebuild, refresh, totals

    _life(workspace, [40 * DAY, 35 * DAY])
    refresh(now=NOW)
    span = {"workspace": workspace, "metric": "messages", "start": NOW - 50 * DAY, "end": NOW}
    counted = totals(**span)
    assert counted and counted[0]["count"] == 2
    workspace.retention_messages_days = 30
    workspace.save()
    retention.purge(now=NOW)
    assert _rows(workspace)["messages"] == 0
    refresh(now=NOW + dt.timedelta(hours=2))
    assert totals(**span) == counted
    # nor when a repair rebuilds the range from the raw tables
    rebuild(workspace=workspace, start=NOW - 50 * DAY, end=NOW)
    assert totals(**span) == counted


@pytest.mark.django_db
def test_a_zone_whose_hours_start_elsewhere_keeps_the_purged_days(workspace):
    """A zone of another hour grid (Asia/Kolkata: hours start at :30 UTC) rebuilt every hour from
    the raw tables, and so lost every count retention had purged."""
    from analytics.rollups import refresh, totals

    _life(workspace, [40 * DAY, 35 * DAY, 3 * DAY])
    refresh(now=NOW)
    workspace.retention_messages_days = 30
    workspace.save()
    retention.purge(now=NOW)
    workspace.timezone = "Asia/Kolkata"
    workspace.save()
    refresh(now=NOW + dt.timedelta(hours=1))
    counted = totals(workspace=workspace, metric="messages", start=NOW - 50 * DAY, end=NOW + DAY)
    assert counted[0]["count"] == 3


@pytest.mark.django_db
def test_realtime_rows_older_than_an_hour_go_whatever_the_periods(workspace):
    from cpaas.realtime import publish

    publish("g", {"n": "old"})
    publish("g", {"n": "new"})
    RealtimeEvent.objects.filter(payload__n="old").update(created_at=NOW - dt.timedelta(hours=2))
    RealtimeEvent.objects.filter(payload__n="new").update(created_at=NOW - dt.timedelta(minutes=5))
    retention.purge(now=NOW)
    assert list(RealtimeEvent.objects.values_list("payload", flat=True)) == [{"n": "new"}]


@pytest.mark.django_db
def test_the_worker_runs_it_hourly():
    schedule = Schedule.objects.get(func="cpaas.retention.purge_task")
    assert schedule.schedule_type == Schedule.HOURLY and schedule.repeats == -1


@pytest.mark.django_db
def test_the_settings_page_sets_the_periods_with_clear_limits(workspace, admin_client):
    form = {"name": workspace.name, "timezone": "UTC", "default_country": "GB", "default_language": "en"}
    response = admin_client.post(reverse("workspace_edit"), {**form, "retention_messages_days": "7"})
    assert response.status_code == 200
    assert "greater than or equal to 30" in response.content.decode()
    workspace.refresh_from_db()
    assert workspace.retention_messages_days is None
    response = admin_client.post(reverse("workspace_edit"), {**form, "retention_messages_days": "400"})
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert (workspace.retention_messages_days, workspace.retention_steps_days) == (400, None)
