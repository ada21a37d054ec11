import datetime as dt

import pytest

from contacts.models import Contact, Event
from cpaas import bus
from tests.api.conftest import error_of
from tests.factories import ContactFactory, EventFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"
BATCH = "/api/v1/events/batch/"


def event(contact=None, **extra) -> dict:
    return {"contact": contact or {"external_id": "crm-1"}, "name": "signup", **extra}


# --- single events ----------------------------------------------------------------------------


def test_record_an_event_for_a_contact_id(api, workspace):
    contact = ContactFactory(workspace=workspace)
    seen = []
    bus.subscribe("payment_completed")(seen.append)
    try:
        response = api.post(
            URL,
            {
                "contact": {"id": contact.pk},
                "name": "payment_completed",
                "properties": {"amount": 12.5},
                "occurred_at": "2026-03-01T10:00:00+01:00",
            },
            format="json",
        )
    finally:
        bus.unsubscribe("payment_completed", seen.append)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["contact"] == contact.pk
    assert body["properties"] == {"amount": 12.5}
    assert body["source"] == "api"
    assert body["occurred_at"] == "2026-03-01T09:00:00Z"
    assert [e.pk for e in seen] == [body["id"]]  # emitted on the bus


def test_an_unknown_external_id_creates_the_contact(api, workspace):
    response = api.post(URL, event({"external_id": "crm-new"}), format="json")
    assert response.status_code == 201, response.json()
    contact = Contact.objects.get(workspace=workspace, external_id="crm-new")
    assert response.json()["contact"] == contact.pk
    # ...and a known one is used as it is
    response = api.post(URL, event({"external_id": "crm-new"}, name="login"), format="json")
    assert response.json()["contact"] == contact.pk
    assert Contact.objects.count() == 1


def test_a_phone_is_matched_in_any_format_or_creates_the_contact(api, workspace):
    contact = ContactFactory(workspace=workspace, phone="+447911123456")
    response = api.post(URL, event({"phone": "07911 123456"}), format="json")
    assert response.json()["contact"] == contact.pk
    response = api.post(URL, event({"phone": "+14155552671"}), format="json")
    assert response.status_code == 201
    assert Contact.objects.filter(workspace=workspace, phone="+14155552671").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"contact": {"id": 1}, "name": ""}, "name"),
        ({"contact": {"id": 1}, "name": "x" * 101}, "name"),
        ({"contact": {}, "name": "signup"}, "contact.non_field_errors"),
        ({"contact": {"id": 1, "phone": "+447911123456"}, "name": "signup"}, "contact.non_field_errors"),
        ({"contact": {"phone": "12"}, "name": "signup"}, "contact.phone"),
        ({"contact": {"external_id": "a"}, "name": "signup", "properties": [1]}, "properties"),
        (
            {"contact": {"external_id": "a"}, "name": "signup", "occurred_at": "2026-01-01T10:00:00"},
            "occurred_at",
        ),
        ({"contact": {"external_id": "a"}, "name": "signup", "occurred_at": "tuesday"}, "occurred_at"),
        ({"contact": {"external_id": "a"}, "name": "signup", "colour": "red"}, "colour"),
    ],
)
def test_invalid_event_is_400_naming_the_field(api, payload, field):
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in error_of(response)["fields"], response.json()
    assert not Event.objects.exists()
    assert not Contact.objects.exists()


def test_unknown_contact_id_is_400(api, workspace, other_workspace):
    theirs = ContactFactory(workspace=other_workspace)
    response = api.post(URL, event({"id": theirs.pk}), format="json")
    assert response.status_code == 400
    assert error_of(response)["fields"]["contact.id"] == [f"Contact {theirs.pk} not found in this workspace."]
    assert not Event.objects.exists()


def test_idempotency_key_replay_and_conflict(api, workspace):
    contact = ContactFactory(workspace=workspace)
    body = event({"id": contact.pk}, properties={"plan": "gold"}, idempotency_key="k-1")
    first = api.post(URL, body, format="json")
    assert first.status_code == 201

    again = api.post(URL, body, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Event.objects.count() == 1

    changed = api.post(URL, {**body, "properties": {"plan": "silver"}}, format="json")
    assert changed.status_code == 409
    error = error_of(changed)
    assert error["code"] == "conflict"
    assert "idempotency_key" in error["fields"]
    assert Event.objects.count() == 1


def test_idempotency_key_header(api, workspace):
    contact = ContactFactory(workspace=workspace)
    body = event({"id": contact.pk})
    first = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="h-1")
    again = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="h-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert Event.objects.get().idempotency_key == "h-1"
    clash = api.post(URL, {**body, "idempotency_key": "other"}, format="json", HTTP_IDEMPOTENCY_KEY="h-2")
    assert clash.status_code == 400


def test_a_reused_key_for_a_new_contact_is_a_conflict_and_creates_no_contact(api, workspace):
    contact = ContactFactory(workspace=workspace)
    api.post(URL, event({"id": contact.pk}, idempotency_key="k"), format="json")
    response = api.post(URL, event({"external_id": "brand-new"}, idempotency_key="k"), format="json")
    assert response.status_code == 409
    assert not Contact.objects.filter(external_id="brand-new").exists()


# --- batches ----------------------------------------------------------------------------------


def test_batch_writes_all_and_reports_each(api, workspace):
    contact = ContactFactory(workspace=workspace)
    events = [
        event({"id": contact.pk}, idempotency_key="b-0"),
        event({"external_id": "crm-9"}, name="login", idempotency_key="b-1"),
        event({"external_id": "crm-9"}, name="logout"),
    ]
    response = api.post(BATCH, {"events": events}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["duplicates"], body["contacts_created"]) == (3, 0, 1)
    assert [r["index"] for r in body["results"]] == [0, 1, 2]
    assert all(r["status"] == "created" for r in body["results"])
    new = Contact.objects.get(external_id="crm-9")
    assert [r["contact_created"] for r in body["results"]] == [False, True, True]
    assert body["results"][1]["contact_id"] == new.pk
    assert Event.objects.count() == 3

    # a replay creates nothing new
    replay = api.post(BATCH, {"events": events[:2]}, format="json").json()
    assert (replay["created"], replay["duplicates"], replay["contacts_created"]) == (0, 2, 0)
    assert [r["status"] for r in replay["results"]] == ["duplicate", "duplicate"]
    assert [r["event_id"] for r in replay["results"]] == [r["event_id"] for r in body["results"][:2]]
    assert Event.objects.count() == 3


def test_same_key_twice_in_one_batch(api, workspace):
    contact = ContactFactory(workspace=workspace)
    same = event({"id": contact.pk}, idempotency_key="dup", properties={"a": {"x": 1, "y": 2}})
    reordered = {**same, "properties": {"a": {"y": 2, "x": 1}}}
    response = api.post(BATCH, {"events": [same, reordered]}, format="json")
    assert [r["status"] for r in response.json()["results"]] == ["created", "duplicate"]
    assert Event.objects.count() == 1

    different = {**same, "idempotency_key": "dup2"}
    response = api.post(BATCH, {"events": [different, {**different, "name": "other"}]}, format="json")
    assert response.status_code == 409
    assert "events[1].idempotency_key" in error_of(response)["fields"]
    assert Event.objects.count() == 1


def test_batch_over_the_limit_is_413_and_nothing_is_written(api, workspace):
    events = [event({"external_id": f"c-{i}"}) for i in range(10_001)]
    response = api.post(BATCH, {"events": events}, format="json")
    assert response.status_code == 413
    error = error_of(response)
    assert error["limit"] == 10_000
    assert "10,000" in error["message"] and "10,001" in error["message"]
    assert not Event.objects.exists() and not Contact.objects.exists()


def test_batch_of_1000_is_accepted(api, workspace):
    contact = ContactFactory(workspace=workspace)
    events = [event({"id": contact.pk}, idempotency_key=f"k{i}") for i in range(1000)]
    response = api.post(BATCH, {"events": events}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["created"] == 1000
    assert Event.objects.count() == 1000


def test_one_bad_event_in_a_batch_writes_nothing_and_names_every_problem(api, workspace, other_workspace):
    contact = ContactFactory(workspace=workspace)
    theirs = ContactFactory(workspace=other_workspace)
    events = [event({"external_id": f"new-{i}"}) for i in range(20)]
    events[12] = {"contact": {"id": contact.pk}, "name": ""}
    events[15] = event({"id": theirs.pk})
    events[17] = event({"phone": "not a phone"})
    events[18] = event({"id": contact.pk}, occurred_at="2026-01-01T10:00:00")
    response = api.post(BATCH, {"events": events}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert set(error["fields"]) == {
        "events[12].name",
        "events[15].contact.id",
        "events[17].contact.phone",
        "events[18].occurred_at",
    }
    assert error["message"].startswith("events[12].name: ")
    assert not Event.objects.exists()
    assert Contact.objects.filter(workspace=workspace).count() == 1  # none of the 16 new contacts


def test_batch_rolls_back_when_a_write_fails(api, workspace, monkeypatch):
    """An error only the write finds (a concurrent writer took an idempotency key between the
    check and the insert) still leaves nothing behind: the batch is checked again, and the key
    now used for another event is a 409."""
    from contacts.api import ingest

    other = ContactFactory(workspace=workspace)
    real = ingest._write

    def racing(*args):
        if not Event.objects.filter(idempotency_key="n-2").exists():  # the other request commits
            EventFactory(workspace=workspace, contact=other, name="elsewhere", idempotency_key="n-2")
        return real(*args)

    monkeypatch.setattr(ingest, "_write", racing)
    events = [event({"external_id": f"n-{i}"}, idempotency_key=f"n-{i}") for i in range(4)]
    response = api.post(BATCH, {"events": events}, format="json")
    assert response.status_code == 409, response.json()
    assert set(error_of(response)["fields"]) == {"events[2].idempotency_key"}
    assert list(Event.objects.values_list("name", flat=True)) == ["elsewhere"]
    assert list(Contact.objects.all()) == [other]


@pytest.mark.parametrize(
    "body",
    [{}, {"events": "x"}, [event()], {"events": []}, {"events": [event()], "extra": 1}],
)
def test_batch_shape_errors(api, body):
    response = api.post(BATCH, body, format="json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


# --- reading events ---------------------------------------------------------------------------


def test_list_and_filter_events(api, workspace):
    a = ContactFactory(workspace=workspace)
    b = ContactFactory(workspace=workspace)
    t = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    e1 = EventFactory(contact=a, name="signup", occurred_at=t)
    e2 = EventFactory(contact=a, name="login", occurred_at=t + dt.timedelta(days=2))
    e3 = EventFactory(contact=b, name="login", occurred_at=t + dt.timedelta(days=5))

    def ids(params=None, url=URL):
        response = api.get(url, params or {})
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids() == [e3.pk, e2.pk, e1.pk]  # newest first
    assert ids({"name": "login"}) == [e3.pk, e2.pk]
    assert ids({"contact": a.pk}) == [e2.pk, e1.pk]
    assert ids({"since": "2026-01-11T00:00:00Z"}) == [e3.pk, e2.pk]
    assert ids({"until": "2026-01-11T00:00:00Z"}) == [e1.pk]
    assert ids(url=f"/api/v1/contacts/{b.pk}/events/") == [e3.pk]
    response = api.get(URL, {"contact": 999999})
    assert response.status_code == 400
    assert "999999" in error_of(response)["fields"]["contact"][0]
