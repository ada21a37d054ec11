"""Audience chunks (`enroll_many`): the counters add only the enrolments actually inserted, even
when a concurrent enrolment wins a row between the entry-rule read and the insert."""

from django.utils import timezone

from journeys.engine import enroll
from journeys.engine.counters import counters_for
from journeys.models import Enrollment
from tests.factories import ContactFactory
from tests.journeys.conftest import linear


def _journey(publish, **rules):
    return publish(linear(("trigger.manual", {}), ("wait.delay", {"seconds": 60})), **rules)


def test_rows_taken_by_a_concurrent_enrolment_are_not_counted(workspace, publish, monkeypatch):
    # given a one-active-enrolment journey and three contacts, one of whom a concurrent trigger
    # enrols after the entry rules were read (the read is made to miss it)
    journey = _journey(publish, one_active=True)
    people = [ContactFactory(workspace=workspace) for _ in range(3)]
    now = timezone.now()
    assert enroll.enroll_one(journey=journey, contact_id=people[1].pk, now=now, trigger_key="event:1")
    monkeypatch.setattr(enroll, "blocked_contacts", lambda journey, ids: set())
    # when the chunk enrols all three
    enrolled, skipped = enroll.enroll_many(
        journey=journey, contact_ids=[p.pk for p in people], now=now, key_prefix="run1"
    )
    # then the conflicting row was left out and not counted
    assert (enrolled, skipped) == (2, 1)
    assert Enrollment.objects.filter(journey=journey).count() == 3
    totals = counters_for(journey.pk)[""]
    assert totals["enrolled"] == 3 and totals["active"] == 3


def test_the_same_trigger_key_twice_counts_once(workspace, publish, monkeypatch):
    journey = _journey(publish, allow_reentry=True, one_active=False)
    person = ContactFactory(workspace=workspace)
    now = timezone.now()
    assert enroll.enroll_many(journey=journey, contact_ids=[person.pk], now=now, key_prefix="run7") == (1, 0)
    # the key check is made to miss the first row: the unique (journey, trigger_key) index stops it
    monkeypatch.setattr(Enrollment.objects, "filter", _no_keys(Enrollment.objects.filter))
    assert enroll.enroll_many(journey=journey, contact_ids=[person.pk], now=now, key_prefix="run7") == (0, 1)
    assert Enrollment.objects.filter(journey=journey).count() == 1
    assert counters_for(journey.pk)[""]["enrolled"] == 1


def _no_keys(real_filter):
    def filter_(*args, **kwargs):
        if "trigger_key__in" in kwargs:
            return Enrollment.objects.none()
        return real_filter(*args, **kwargs)

    return filter_


def test_inserted_rows_are_whole_enrolments(workspace, publish, engine):
    journey = _journey(publish)
    person = ContactFactory(workspace=workspace)
    now = timezone.now()
    assert enroll.enroll_many(journey=journey, contact_ids=[person.pk], now=now, context={"a": 1}) == (1, 0)
    e = Enrollment.objects.get(journey=journey)
    assert (e.status, e.node, e.context, e.version_id) == (
        "active",
        "trigger",
        {"a": 1},
        journey.live_version_id,
    )
    engine(now)
    e.refresh_from_db()
    assert e.status == "waiting"


def test_a_large_chunk_with_a_conflict_counts_exactly(workspace, publish, monkeypatch):
    # more rows than one multi-row VALUES takes: on PostgreSQL they go through COPY and a scratch
    # table, twice in one transaction (the scratch rows of the first chunk must not come back)
    from django.db import transaction

    from tests.factories import ContactFactory

    journey = _journey(publish, one_active=True)
    people = ContactFactory.create_batch(150, workspace=workspace)
    now = timezone.now()
    assert enroll.enroll_one(journey=journey, contact_id=people[70].pk, now=now, trigger_key="event:1")
    monkeypatch.setattr(enroll, "blocked_contacts", lambda journey, ids: set())
    with transaction.atomic():
        first = enroll.enroll_many(
            journey=journey, contact_ids=[p.pk for p in people[:100]], now=now, key_prefix="r1"
        )
        second = enroll.enroll_many(
            journey=journey, contact_ids=[p.pk for p in people[100:]], now=now, key_prefix="r1"
        )
    assert (first, second) == ((99, 1), (50, 0))
    assert Enrollment.objects.filter(journey=journey).count() == 150
    assert counters_for(journey.pk)[""]["enrolled"] == 150
