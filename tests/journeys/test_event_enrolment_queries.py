"""Enrolment by recorded events runs in each event's transaction, so its cost per event is kept
to a small constant: the contact's open enrolments, the journeys the event triggers (with their
entry rules for this contact, in the same query), and for each enrolment one insert."""

from contacts.models import Event
from journeys.engine import signals
from journeys.models import Enrollment
from tests.journeys.conftest import linear


def _journeys(publish, n, event="signup", **rules):
    return [
        publish(linear(("trigger.event", {"event": event}), ("wait.delay", {"seconds": 60})), name=f"J{event}{i}", **rules)
        for i in range(n)
    ]  # fmt: skip


def _event(workspace, contact, name):
    return Event.objects.create(workspace=workspace, contact=contact, name=name, properties={}, source="test",
                                occurred_at=contact.created_at, received_at=contact.created_at)  # fmt: skip


def test_an_event_no_journey_wants_costs_two_reads(workspace, publish, contact, django_assert_num_queries):
    _journeys(publish, 3)
    event = _event(workspace, contact, "page_viewed")
    with django_assert_num_queries(2):  # open enrolments, journeys it triggers
        signals.on_event(event)


def test_a_triggering_event_costs_the_same_whatever_the_rules(
    workspace, publish, contact, django_assert_max_num_queries
):
    _journeys(publish, 2, allow_reentry=False)
    event = _event(workspace, contact, "signup")
    # reads (+ the graphs, cold in a test), one insert per journey, one counter upsert, and the
    # counters' live push (journey -> workspace, once per process; one realtime row per journey)
    with django_assert_max_num_queries(3 + 2 + 1 + 2 + 2):
        signals.on_event(event)
    assert Enrollment.objects.filter(contact=contact).count() == 2
    # the entry rules, read in the journeys query, keep the contact out the second time
    again = _event(workspace, contact, "signup")
    with django_assert_max_num_queries(2):
        signals.on_event(again)
    assert Enrollment.objects.filter(contact=contact).count() == 2
