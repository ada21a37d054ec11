"""POST /api/v1/contacts/batch/: create or update many contacts by external id (or phone) with
contact_clean's rules, all-or-nothing or per item, in a bounded number of queries."""

import pytest
from django.db import connection

from contacts.models import Contact
from cpaas.models import AuditEntry, RealtimeEvent
from tests.api.conftest import error_of
from tests.factories import AttributeDefinitionFactory, ContactFactory, TagFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/batch/"


def post(api, contacts, **extra):
    return api.post(URL, {"contacts": contacts, **extra}, format="json")


def test_creates_updates_and_leaves_unchanged_by_external_id_or_phone(api, workspace):
    AttributeDefinitionFactory(workspace=workspace, key="plan", type="text")
    ann = ContactFactory(
        workspace=workspace, external_id="crm-1", first_name="Ann", attributes={"plan": "free"}
    )
    bob = ContactFactory(workspace=workspace, phone="+447911123456", first_name="Bob", external_id=None)
    cat = ContactFactory(workspace=workspace, external_id="crm-3", first_name="Cat")
    response = post(
        api,
        [
            {"external_id": "crm-1", "attributes": {"plan": "gold"}, "tags": ["vip"]},
            {"phone": "07911 123456", "last_name": "Builder"},
            {"external_id": "crm-3", "first_name": "Cat"},
            {
                "external_id": "crm-4",
                "first_name": "Dan",
                "phone": "+14155552671",
                "email": "DAN@example.com",
            },
        ],
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert [(r["status"], r["index"]) for r in body["results"]] == [
        ("updated", 0), ("updated", 1), ("unchanged", 2), ("created", 3)
    ]  # fmt: skip
    assert (body["created"], body["updated"], body["unchanged"], body["invalid"]) == (1, 2, 1, 0)
    ann.refresh_from_db(), bob.refresh_from_db(), cat.refresh_from_db()
    assert ann.attributes == {"plan": "gold"} and ann.first_name == "Ann"
    assert [t.name for t in ann.tags.all()] == ["vip"]
    assert bob.last_name == "Builder" and bob.first_name == "Bob"
    dan = Contact.objects.get(workspace=workspace, external_id="crm-4")
    assert (dan.phone, dan.email) == ("+14155552671", "dan@example.com")
    assert body["results"][3]["contact_id"] == dan.pk
    actions = sorted(
        AuditEntry.objects.filter(workspace=workspace, action__startswith="contacts.").values_list(
            "action", "target_id"
        )
    )
    assert actions == sorted(
        [("contacts.contact.created", str(dan.pk)), ("contacts.contact.updated", str(ann.pk)),
         ("contacts.contact.updated", str(bob.pk))]
    )  # fmt: skip


def test_one_invalid_contact_writes_nothing_and_every_problem_is_named(api, workspace):
    ContactFactory(workspace=workspace, external_id="taken", phone="+447911123456")
    contacts = [{"external_id": f"n-{i}", "first_name": f"N{i}"} for i in range(10)]
    contacts[2] = {"external_id": "n-2", "phone": "12"}
    contacts[4] = {"first_name": "Nobody"}
    contacts[5] = {"external_id": "n-5", "phone": "+447911123456"}
    contacts[6] = {"external_id": "n-1"}
    contacts[7] = {"external_id": "n-7", "attributes": {"nope": 1}, "colour": "red"}
    response = post(api, contacts)
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert set(fields) == {
        "contacts[2].phone",
        "contacts[4].external_id",
        "contacts[5].phone",
        "contacts[6].external_id",
        "contacts[7].colour",
    }
    assert "Another contact already has this phone number." in fields["contacts[5].phone"]
    assert "contacts[1]" in fields["contacts[6].external_id"][0]
    assert Contact.objects.filter(workspace=workspace).count() == 1
    assert not AuditEntry.objects.filter(action__startswith="contacts.").exists()


def test_per_item_writes_the_valid_ones_and_reports_the_others(api, workspace):
    response = post(
        api,
        [{"external_id": "a"}, {"external_id": "b", "timezone": "Mars/Base"}, {"external_id": "c"}],
        all_or_nothing=False,
    )
    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "invalid", "created"]
    assert results[1]["contact_id"] is None
    assert "timezone" in results[1]["errors"]
    assert set(Contact.objects.values_list("external_id", flat=True)) == {"a", "c"}


def test_two_items_giving_one_phone_clash(api, workspace):
    response = post(
        api, [{"external_id": "a", "phone": "+447911123456"}, {"external_id": "b", "phone": "07911123456"}]
    )
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"contacts[1].phone"}


def test_tags_are_replaced_and_a_tag_change_alone_is_an_update(api, workspace):
    contact = ContactFactory(workspace=workspace, external_id="t")
    contact.tags.set([TagFactory(workspace=workspace, name="old")])
    body = post(api, [{"external_id": "t", "tags": ["new", "vip"]}]).json()
    assert body["results"][0]["status"] == "updated"
    assert sorted(t.name for t in contact.tags.all()) == ["new", "vip"]
    again = post(api, [{"external_id": "t", "tags": ["vip", "new"]}]).json()
    assert again["results"][0]["status"] == "unchanged"


def test_over_the_limit_is_413(api, workspace):
    response = post(api, [{"external_id": f"x{i}"} for i in range(10_001)])
    assert response.status_code == 413
    assert error_of(response)["limit"] == 10_000
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    "body", [{}, {"contacts": "x"}, {"contacts": []}, {"contacts": [{}], "extra": 1}, {"contacts": [{}], "all_or_nothing": "maybe"}]
)  # fmt: skip
def test_shape_errors(api, body):
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


def test_one_notice_for_open_contact_lists_and_bounded_queries(
    api, workspace, settings, django_assert_max_num_queries
):
    settings.REALTIME_MODE = "relay"
    existing = [{"external_id": f"e-{i}", "first_name": "Old"} for i in range(300)]
    post(api, existing)
    RealtimeEvent.objects.all().delete()
    changed = [{**c, "first_name": "New"} for c in existing] + [{"external_id": f"f-{i}"} for i in range(300)]
    # SQLite splits bulk writes in chunks of ~100 rows (its parameter limit); never a query per contact
    bound = 60 if connection.vendor == "sqlite" else 20
    with django_assert_max_num_queries(bound):
        body = post(api, changed).json()
    assert (body["created"], body["updated"]) == (300, 300)
    notices = [r.payload for r in RealtimeEvent.objects.filter(group=f"ws.{workspace.pk}.contacts")]
    assert notices == [{"type": "contacts.changed", "created": 300, "updated": 300}]
    assert Contact.objects.filter(workspace=workspace, first_name="New").count() == 300


def test_a_contact_created_meanwhile_is_updated_not_duplicated(api, workspace, monkeypatch):
    """A concurrent writer creates one of the batch's contacts between the check and the insert:
    the insert fails on the unique external id, the batch is checked again and updates it; the
    invalid item of a per-item batch keeps its errors through the retry."""
    from contacts import upserts

    real = upserts._write

    def racing(*args):
        if not Contact.objects.filter(external_id="b").exists():  # the other request commits
            ContactFactory(workspace=workspace, external_id="b", first_name="Theirs")
        return real(*args)

    monkeypatch.setattr(upserts, "_write", racing)
    body = post(api, [{"external_id": "a"}, {"external_id": "b", "first_name": "Ours"}, {"external_id": 7, "phone": []}],
                all_or_nothing=False).json()  # fmt: skip
    assert [r["status"] for r in body["results"]] == ["created", "updated", "invalid"]
    assert "phone" in body["results"][2]["errors"]
    assert Contact.objects.get(external_id="b").first_name == "Ours"
    assert Contact.objects.filter(workspace=workspace).count() == 2
