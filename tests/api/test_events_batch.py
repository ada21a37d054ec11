"""The events front door in sets (issue 12): a batch of events for new contacts enrols them in
the journeys the events trigger, exactly once per event and per idempotency key, with a number
of queries that does not grow with the batch, one realtime notice for the contact lists, and
every bus subscriber seeing every event once."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.utils import timezone

from contacts.models import Contact, Event
from cpaas import bus
from cpaas.models import RealtimeEvent
from cpaas.tenancy import Actor
from journeys.models import Enrollment
from tests.api.conftest import error_of
from tests.factories import ContactFactory, EventFactory
from tests.journeys.conftest import linear

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"
BATCH = "/api/v1/events/batch/"


@pytest.fixture
def journey(workspace, admin_user):
    """A live journey: signup -> send an SMS -> wait a day -> exit."""
    from journeys.services import journey_create, journey_publish

    actor = Actor.for_user(admin_user)
    g = linear(
        ("trigger.event", {"event": "signup"}),
        ("message.send", {"channel": "sms", "template": {"en": "Welcome!"}}),
        ("wait.delay", {"seconds": 86400}),
    )
    j = journey_create(workspace=workspace, actor=actor, name="Welcome", graph=g, rules={})
    journey_publish(journey=j, actor=actor, now=timezone.now())
    j.refresh_from_db()
    return j


def signups(n, start=0, **extra):
    return [
        {"contact": {"external_id": f"u-{i}"}, "name": "signup", **extra} for i in range(start, start + n)
    ]


def test_a_batch_of_signups_creates_the_contacts_and_enrols_each_once(api, workspace, journey):
    response = api.post(BATCH, {"events": signups(300)}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["contacts_created"]) == (300, 300)
    assert body["lag_s"] >= 0
    enrolled = Enrollment.objects.filter(journey=journey)
    assert enrolled.count() == 300
    by_contact = {r["contact_id"]: r["event_id"] for r in body["results"]}
    assert {e.contact_id: e.trigger_key for e in enrolled} == {c: f"event:{e}" for c, e in by_contact.items()}
    assert set(Contact.objects.filter(workspace=workspace).values_list("external_id", flat=True)) == {
        f"u-{i}" for i in range(300)
    }


def test_replays_and_repeats_enrol_exactly_once_per_key(api, workspace, journey):
    events = signups(5, idempotency_key=None)
    for i, e in enumerate(events):
        e["idempotency_key"] = f"k-{i}"
    first = api.post(BATCH, {"events": events}, format="json").json()
    again = api.post(BATCH, {"events": events + events}, format="json").json()  # each twice
    single = api.post(URL, events[0], format="json")
    assert (first["created"], again["created"], again["duplicates"]) == (5, 0, 10)
    assert single.status_code == 200 and single["Idempotent-Replayed"] == "true"
    assert Event.objects.count() == 5
    assert Enrollment.objects.filter(journey=journey).count() == 5


def test_the_same_key_twice_in_one_batch_is_reported_per_item(api, workspace, journey):
    e = {"contact": {"external_id": "u-1"}, "name": "signup", "idempotency_key": "once"}
    body = api.post(BATCH, {"events": [e, signups(1, start=2)[0], e]}, format="json").json()
    assert [r["status"] for r in body["results"]] == ["created", "created", "duplicate"]
    assert body["results"][2]["event_id"] == body["results"][0]["event_id"]
    assert body["results"][2]["contact_created"] is True
    assert Enrollment.objects.filter(journey=journey).count() == 2


def test_a_key_reused_for_a_different_event_is_409_and_writes_nothing(api, workspace, journey):
    api.post(
        URL, {"contact": {"external_id": "u-1"}, "name": "signup", "idempotency_key": "k"}, format="json"
    )
    batch = signups(3, start=10) + [
        {"contact": {"external_id": "u-1"}, "name": "login", "idempotency_key": "k"}
    ]
    response = api.post(BATCH, {"events": batch}, format="json")
    assert response.status_code == 409
    assert set(error_of(response)["fields"]) == {"events[3].idempotency_key"}
    assert Event.objects.count() == 1 and Contact.objects.count() == 1
    assert Enrollment.objects.filter(journey=journey).count() == 1


def test_events_of_contacts_already_in_a_journey_behave_as_one_by_one(api, workspace, admin_user):
    """A contact waiting for an event is resumed by it, a second signup of the same contact in
    the same batch does not enrol twice (no re-entry), and a new contact enrols: the set path
    gives what recording the events one by one gives."""
    from journeys.engine.runner import run_pending
    from journeys.services import journey_create, journey_publish

    actor = Actor.for_user(admin_user)
    EventFactory(workspace=workspace, name="paid")  # the editor knows the event
    g = linear(("trigger.event", {"event": "signup"}), ("wait.event", {"event": "paid", "timeout_s": 3600}))
    j = journey_create(workspace=workspace, actor=actor, name="Pay", graph=g, rules={"allow_reentry": False})
    journey_publish(journey=j, actor=actor, now=timezone.now())
    waiting = ContactFactory(workspace=workspace, external_id="w")
    api.post(URL, {"contact": {"external_id": "w"}, "name": "signup"}, format="json")
    run_pending(now=timezone.now())
    assert Enrollment.objects.get(contact=waiting).status == "waiting"
    batch = [
        {"contact": {"external_id": "w"}, "name": "paid"},
        {"contact": {"external_id": "twice"}, "name": "signup"},
        {"contact": {"external_id": "twice"}, "name": "signup"},
        {"contact": {"external_id": "new"}, "name": "signup"},
        {"contact": {"external_id": "other"}, "name": "signup"},
    ]
    assert api.post(BATCH, {"events": batch}, format="json").status_code == 200
    resumed = Enrollment.objects.get(contact=waiting)
    assert resumed.resume and resumed.resume["kind"] == "event"
    counts = {c: Enrollment.objects.filter(contact__external_id=c).count() for c in ("twice", "new", "other")}
    assert counts == {"twice": 1, "new": 1, "other": 1}


def test_every_bus_subscriber_sees_each_event_once(api, workspace):
    one_by_one, in_sets = [], []

    def batch_handler(events):
        in_sets.append([e.pk for e in events])

    bus.subscribe("signup")(one_by_one.append)
    bus.subscribe_many(bus.ANY)(batch_handler)
    try:
        body = api.post(BATCH, {"events": signups(4)}, format="json")
        single = api.post(URL, {"contact": {"external_id": "solo"}, "name": "signup"}, format="json")
    finally:
        bus.unsubscribe("signup", one_by_one.append)
        bus.unsubscribe(bus.ANY, batch_handler)
    ids = [r["event_id"] for r in body.json()["results"]]
    assert [e.pk for e in one_by_one] == ids + [single.json()["id"]]
    assert in_sets == [ids, [single.json()["id"]]]


def test_nothing_reaches_the_bus_or_the_browser_when_the_batch_is_rejected(api, workspace):
    seen = []
    bus.subscribe(bus.ANY)(seen.append)
    try:
        response = api.post(BATCH, {"events": signups(3) + [{"contact": {"phone": "12"}, "name": "signup"}]},
                            format="json")  # fmt: skip
    finally:
        bus.unsubscribe(bus.ANY, seen.append)
    assert response.status_code == 400
    assert "events[3].contact.phone" in error_of(response)["fields"]
    assert seen == [] and not RealtimeEvent.objects.exists() and not Contact.objects.exists()


def test_open_contact_lists_get_one_notice_per_batch(api, workspace, settings):
    settings.REALTIME_MODE = "relay"
    api.post(BATCH, {"events": signups(250)}, format="json")
    notices = [r.payload for r in RealtimeEvent.objects.filter(group=f"ws.{workspace.pk}.contacts")]
    assert notices == [{"type": "contacts.changed", "created": 250, "updated": 0}]
    # one new contact is still placed as its row, as any single write
    RealtimeEvent.objects.all().delete()
    api.post(URL, {"contact": {"external_id": "solo"}, "name": "signup"}, format="json")
    (notice,) = RealtimeEvent.objects.filter(group=f"ws.{workspace.pk}.contacts")
    assert notice.payload["type"] == "contact.created" and "solo" in notice.payload["html"]
    # known contacts: no notice at all
    RealtimeEvent.objects.all().delete()
    api.post(BATCH, {"events": signups(20)}, format="json")
    assert not RealtimeEvent.objects.filter(group=f"ws.{workspace.pk}.contacts").exists()


def _queries_for(api, events, django_assert_max_num_queries, bound):
    with django_assert_max_num_queries(bound) as captured:
        response = api.post(BATCH, {"events": events}, format="json")
    assert response.status_code == 200, response.json()
    return len(captured.captured_queries)


def test_a_batch_costs_the_same_queries_whatever_its_size(
    api, workspace, journey, django_assert_max_num_queries
):
    api.post(BATCH, {"events": signups(1, start=99_999)}, format="json")  # warm the caches
    small = _queries_for(api, signups(100), django_assert_max_num_queries, 60)
    large = _queries_for(api, signups(600, start=100), django_assert_max_num_queries, 60)
    # never a query per event: only SQLite's bulk inserts split into chunks (its limit on query
    # parameters: ~40 audit entries, ~100 events a chunk); PostgreSQL sends each insert whole
    assert large <= small + (25 if connection.vendor == "sqlite" else 0)
    assert Enrollment.objects.filter(journey=journey).count() == 701


def test_a_single_event_is_a_small_bounded_number_of_queries(
    api, workspace, journey, django_assert_max_num_queries
):
    api.post(URL, {"contact": {"external_id": "warm"}, "name": "signup"}, format="json")
    known = ContactFactory(workspace=workspace)
    # token, throttle, contact, key, event insert, journeys + rules, enrolment, counters...
    with django_assert_max_num_queries(16):
        response = api.post(URL, {"contact": {"id": known.pk}, "name": "signup", "idempotency_key": "s-1"},
                            format="json")  # fmt: skip
    assert response.status_code == 201
    # a new contact adds its insert, its read back, its audit entry and its row for open lists
    with django_assert_max_num_queries(20):
        response = api.post(URL, {"contact": {"phone": "+447911000111"}, "name": "signup"}, format="json")
    assert response.status_code == 201
    with django_assert_max_num_queries(8):  # a replay reads and answers
        again = api.post(URL, {"contact": {"id": known.pk}, "name": "signup", "idempotency_key": "s-1"},
                         format="json")  # fmt: skip
    assert again.status_code == 200
    assert Enrollment.objects.filter(journey=journey).count() == 3


def test_the_engine_backlog_is_reported_and_events_still_accepted(api, workspace, journey):
    from journeys.selectors import journey_lag_s

    api.post(BATCH, {"events": signups(3)}, format="json")
    Enrollment.objects.filter(journey=journey).update(due_at=timezone.now() - dt.timedelta(seconds=90))
    response = api.post(BATCH, {"events": signups(3, start=3)}, format="json")
    assert response.status_code == 200
    assert response.json()["lag_s"] >= 90
    assert journey_lag_s(workspace=workspace, journey=journey) >= 90
    detail = api.get(f"/api/v1/journeys/{journey.pk}/").json()
    assert detail["lag_s"] >= 90
    assert Enrollment.objects.filter(journey=journey).count() == 6  # nothing dropped


def test_the_journey_page_shows_the_backlog(api, workspace, journey, admin_client):
    page = admin_client.get(f"/journeys/{journey.pk}/").content.decode()
    assert 'Engine behind by</dt><dd id="lag">up to date' in page
    api.post(BATCH, {"events": signups(2)}, format="json")
    Enrollment.objects.filter(journey=journey).update(due_at=timezone.now() - dt.timedelta(seconds=42))
    page = admin_client.get(f"/journeys/{journey.pk}/").content.decode()
    assert re.search(r'Engine behind by</dt><dd id="lag"><span class="badge warn">4[2-9] s</span>', page)


PLAIN = [
    {"contact": {"id": 5}, "name": "signup"},
    {"contact": {"external_id": "  crm-1 "}, "name": " signup ", "properties": {"a": [1, {"b": None}]}},
    {"contact": {"phone": "07911 123456"}, "name": "x", "properties": None, "idempotency_key": " k "},
]


def test_plain_events_take_the_fast_check():
    from contacts.api.serializers import event_fast_checked

    assert all(event_fast_checked(raw) is not None for raw in PLAIN)


@pytest.mark.parametrize(
    "raw",
    [
        *PLAIN,
        {"contact": {"phone": "+447911123456"}, "name": "x", "idempotency_key": ""},
        {"contact": {"phone": "+447911123456"}, "name": "x", "idempotency_key": None, "occurred_at": None},
        {"contact": {"id": True}, "name": "x"},
        {"contact": {"id": "12"}, "name": "x"},
        {"contact": {"external_id": ""}, "name": "x"},
        {"contact": {"external_id": "x" * 121}, "name": "x"},
        {"contact": {"phone": 447911123456}, "name": "x"},
        {"contact": {"id": 1, "phone": "+447911123456"}, "name": "x"},
        {"contact": {"email": "a@b.c"}, "name": "x"},
        {"contact": {"id": 1}, "name": "   "},
        {"contact": {"id": 1}, "name": "x" * 101},
        {"contact": {"id": 1}, "name": 7},
        {"contact": {"id": 1}, "name": "x", "properties": [1]},
        {"contact": {"id": 1}, "name": "x", "idempotency_key": "k" * 201},
        {"contact": {"id": 1}, "name": "x", "idempotency_key": 12},
        {"contact": {"id": 1}, "name": "x", "occurred_at": "2026-01-01T10:00:00Z"},
        {"contact": {"id": 1}, "name": "x", "colour": "red"},
        ["not", "an", "object"],
        None,
    ],
)
def test_the_fast_check_accepts_only_what_the_serializer_accepts_and_alike(raw):
    """The batch checks plain events without DRF's machinery; whatever it accepts, the serializer
    accepts with the same data, and everything else is left to the serializer's words."""
    from contacts.api.serializers import EventInputSerializer, event_fast_checked

    fast = event_fast_checked(raw)
    serializer = EventInputSerializer(data=raw)
    if fast is not None:
        assert serializer.is_valid(), serializer.errors
        assert fast == {
            k: (dict(v) if isinstance(v, dict) else v) for k, v in serializer.validated_data.items()
        }


def test_events_of_contacts_busy_elsewhere_are_enrolled_as_a_set(
    api, workspace, admin_user, django_assert_max_num_queries
):
    """Cart events of customers already in another journey (waiting for something else) enrol
    them as a set, in a number of queries that does not grow with the batch; a customer waiting
    for exactly this event is resumed, as one by one."""
    from journeys.engine.runner import run_pending
    from journeys.services import journey_create, journey_publish

    actor = Actor.for_user(admin_user)
    for name in ("paid", "cart", "browse"):
        EventFactory(workspace=workspace, name=name)  # the editor knows the events
    pay = linear(("trigger.event", {"event": "signup"}), ("wait.event", {"event": "paid", "timeout_s": 3600}))
    waits_cart = linear(
        ("trigger.event", {"event": "browse"}), ("wait.event", {"event": "cart", "timeout_s": 3600})
    )
    cart = linear(("trigger.event", {"event": "cart"}), ("wait.delay", {"seconds": 3600}))
    journeys = {}
    for name, g in (("Pay", pay), ("Browse", waits_cart), ("Cart", cart)):
        j = journey_create(workspace=workspace, actor=actor, name=name, graph=g, rules={})
        journey_publish(journey=j, actor=actor, now=timezone.now())
        journeys[name] = j
    api.post(BATCH, {"events": signups(300)}, format="json")
    api.post(URL, {"contact": {"external_id": "browser"}, "name": "browse"}, format="json")
    run_pending(now=timezone.now())
    assert Enrollment.objects.filter(journey=journeys["Pay"], status="waiting").count() == 300

    carts = [{"contact": {"external_id": f"u-{i}"}, "name": "cart"} for i in range(300)]
    carts.append({"contact": {"external_id": "browser"}, "name": "cart"})
    with django_assert_max_num_queries(60 if connection.vendor == "sqlite" else 30):
        response = api.post(BATCH, {"events": carts}, format="json")
    assert response.status_code == 200, response.json()
    assert Enrollment.objects.filter(journey=journeys["Cart"]).count() == 301
    assert not Enrollment.objects.filter(journey=journeys["Pay"]).exclude(resume=None).exists()
    resumed = Enrollment.objects.get(journey=journeys["Browse"])
    assert resumed.resume and resumed.resume["kind"] == "event"
