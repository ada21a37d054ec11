"""Triggers and entry rules: events, keywords, segments and dates on a schedule, manual starts."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts.models import AttributeDefinition, Segment
from journeys.engine import audience_step, schedules_due
from journeys.models import AudienceRun, Enrollment, JourneyCounter
from journeys.services import journey_start
from tests.factories import ContactFactory
from tests.journeys.conftest import linear, reply

pytestmark = pytest.mark.django_db
WAIT = ("wait.delay", {"seconds": 3600})


def enrolled(journey):
    return Enrollment.objects.filter(journey=journey).count()


def test_an_event_enrols_in_every_live_journey_it_triggers_once_per_key(workspace, publish, contact, fire):
    a = publish(linear(("trigger.event", {"event": "signup"}), WAIT), name="A")
    b = publish(
        linear(("trigger.event", {"event": "signup", "filter": {"plan": ["gold", "silver"]}}), WAIT), name="B"
    )
    c = publish(linear(("trigger.event", {"event": "purchase"}), WAIT), name="C")
    fire(contact, "signup", key="evt-1", plan="gold")
    fire(contact, "signup", key="evt-1", plan="gold")  # the same event again (a retry): nothing new
    assert (enrolled(a), enrolled(b), enrolled(c)) == (1, 1, 0)
    other = ContactFactory(workspace=workspace)
    fire(other, "signup", plan="bronze")
    assert (enrolled(a), enrolled(b)) == (2, 1)
    assert Enrollment.objects.get(journey=a, contact=contact).context["event"]["plan"] == "gold"


def test_entry_rules(workspace, publish, contact, fire, engine):
    once = publish(
        linear(("trigger.event", {"event": "signup"}), ("wait.delay", {"seconds": 10})), name="once"
    )
    again = publish(
        linear(("trigger.event", {"event": "signup"}), ("wait.delay", {"seconds": 10})),
        name="again",
        allow_reentry=True,
    )
    many = publish(linear(("trigger.event", {"event": "signup"}), ("wait.delay", {"seconds": 10})), name="many",
                   allow_reentry=True, one_active=False)  # fmt: skip
    now = timezone.now()
    fire(contact, "signup", now=now)
    fire(contact, "signup", now=now)  # while still in them
    assert (enrolled(once), enrolled(again), enrolled(many)) == (1, 1, 2)
    engine(now)
    engine(now + dt.timedelta(seconds=11))  # everyone finished
    fire(contact, "signup", now=now + dt.timedelta(seconds=12))
    assert (enrolled(once), enrolled(again), enrolled(many)) == (1, 2, 3)


def test_keyword_trigger_from_an_inbound_message_but_never_for_stop(workspace, publish, contact):
    journey = publish(linear(("trigger.keyword", {"keywords": ["join", "promo"]}), WAIT))
    reply(contact, "STOP")
    assert enrolled(journey) == 0
    reply(contact, "Join please!")
    assert enrolled(journey) == 1
    e = Enrollment.objects.get(journey=journey)
    assert e.context["event"]["text"] == "Join please!"


def test_keyword_consumed_by_a_waiting_question_starts_nothing(workspace, publish, contact, fire, engine):
    from tests.journeys.conftest import graph, node

    ask = {"channel": "sms", "template": {"en": "Q"}, "timeout_s": 600, "branches": []}
    publish(graph(trigger=node("trigger.event", {"event": "signup"}, next="ask"),
                  ask=node("message.ask", ask, other=None, timeout=None, failed=None)), name="asker")  # fmt: skip
    kw = publish(linear(("trigger.keyword", {"keywords": ["join"]}), WAIT), name="kw")
    fire(contact, "signup")
    engine()
    reply(contact, "join")
    assert enrolled(kw) == 0


def test_manual_start_of_contacts_and_a_segment_in_batches_with_progress(workspace, publish, actor):
    journey = publish(linear(("trigger.manual", {}), WAIT))
    people = [ContactFactory(workspace=workspace, language="fr") for _ in range(25)]
    ContactFactory(workspace=workspace, language="en")
    segment = Segment.objects.create(workspace=workspace, name="French",
                                     definition={"match": "all", "rules": [{"field": "language", "op": "eq", "value": "fr"}]})  # fmt: skip
    run = journey_start(journey=journey, actor=actor, segment=segment)
    assert audience_step(chunk=10) == 10
    run.refresh_from_db()
    assert (run.status, run.total, run.processed, run.percent) == ("running", 25, 10, 40)
    while audience_step(chunk=10):
        pass
    run.refresh_from_db()
    assert (run.status, run.enrolled, run.skipped) == ("done", 25, 0)
    # starting the same people again: the entry rules skip them
    again = journey_start(journey=journey, actor=actor, contact_ids=[p.pk for p in people[:3]])
    while audience_step():
        pass
    again.refresh_from_db()
    assert (again.enrolled, again.skipped) == (0, 3)
    assert JourneyCounter.objects.get(journey=journey, node="", key="enrolled").value == 25
    with pytest.raises(ValidationError):
        journey_start(journey=journey, actor=actor, contact_ids=[999999])


def test_segment_schedule_runs_once_per_due_time(workspace, publish, actor):
    segment = Segment.objects.create(
        workspace=workspace, name="All", definition={"match": "all", "rules": []}
    )
    for _ in range(3):
        ContactFactory(workspace=workspace)
    now = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    journey = publish(
        linear(("trigger.segment", {"segment": segment.pk, "schedule": {"daily_at": "09:30"}}), WAIT), now=now
    )
    assert journey.next_run_at == dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)  # London is on UTC in March
    assert schedules_due(now=now) == 0
    due = dt.datetime(2026, 3, 2, 9, 30, 1, tzinfo=dt.UTC)
    assert schedules_due(now=due) == 1
    assert schedules_due(now=due) == 0
    while audience_step(now=due):
        pass
    assert enrolled(journey) == 3
    journey.refresh_from_db()
    assert journey.next_run_at == dt.datetime(2026, 3, 3, 9, 30, tzinfo=dt.UTC)


def test_date_attribute_trigger_three_days_before(workspace, publish):
    AttributeDefinition.objects.create(workspace=workspace, key="due_date", label="Due", type="date")
    hit = ContactFactory(workspace=workspace, attributes={"due_date": "2026-03-05"})
    ContactFactory(workspace=workspace, attributes={"due_date": "2026-03-06"})
    now = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
    journey = publish(
        linear(("trigger.date_attribute", {"attribute": "due_date", "offset_days": -3, "at": "10:00"}), WAIT),
        now=now,
    )
    schedules_due(now=dt.datetime(2026, 3, 2, 10, 0, 1, tzinfo=dt.UTC))
    while audience_step():
        pass
    assert list(Enrollment.objects.filter(journey=journey).values_list("contact_id", flat=True)) == [hit.pk]
    assert AudienceRun.objects.get(journey=journey).params == {"attribute": "due_date", "date": "2026-03-05"}


def test_stale_enrolments_expire(workspace, publish, contact, fire, engine):
    journey = publish(
        linear(("trigger.event", {"event": "signup"}), ("wait.delay", {"seconds": 40 * 86400})), expiry_days=2
    )
    now = timezone.now()
    fire(contact, "signup", now=now)
    engine(now)
    engine(now + dt.timedelta(days=3))
    e = Enrollment.objects.get(journey=journey)
    assert e.status == "expired"
