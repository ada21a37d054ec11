import datetime as dt

import pytest
from django.utils import timezone

from contacts.models import Contact
from cpaas.models import AuditEntry, RealtimeEvent
from tests.api.conftest import error_of
from tests.factories import AttributeDefinitionFactory, ContactFactory, SegmentFactory, TagFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/"


def detail(pk) -> str:
    return f"{URL}{pk}/"


# --- create, read, update, delete -------------------------------------------------------------


def test_create_returns_the_contact_with_normalised_values(api, workspace):
    AttributeDefinitionFactory(workspace=workspace, key="due_date", type="date")
    response = api.post(
        URL,
        {
            "external_id": "crm-1",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "phone": "07911 123456",
            "email": "ADA@example.com",
            "language": "en",
            "timezone": "Europe/London",
            "preferred_channel": "whatsapp",
            "addresses": {"whatsapp": "447911123456"},
            "attributes": {"due_date": "2026-12-01"},
            "tags": ["vip", "newsletter"],
            "is_vulnerable": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["phone"] == "+447911123456"
    assert body["email"] == "ada@example.com"
    assert body["tags"] == ["newsletter", "vip"]
    assert body["attributes"] == {"due_date": "2026-12-01"}
    assert body["addresses"] == {"whatsapp": "447911123456"}
    assert body["is_vulnerable"] is True
    assert {"id", "created_at", "updated_at"} <= set(body)
    contact = Contact.objects.get(pk=body["id"])
    assert contact.workspace == workspace
    entry = AuditEntry.objects.get(action="contacts.contact.created")
    assert entry.workspace == workspace


def test_create_through_the_api_is_published_to_open_contact_lists(api, workspace):
    response = api.post(URL, {"phone": "+447911123456"}, format="json")
    assert response.status_code == 201
    event = RealtimeEvent.objects.get(group=f"ws.{workspace.pk}.contacts")
    assert event.payload["type"] == "contact.created"
    assert event.payload["id"] == response.json()["id"]


def test_get_patch_delete(api, workspace):
    contact = ContactFactory(workspace=workspace, first_name="Old", phone="+447700900001")
    response = api.get(detail(contact.pk))
    assert response.status_code == 200
    assert response.json()["first_name"] == "Old"

    response = api.patch(detail(contact.pk), {"first_name": "New", "tags": ["a"]}, format="json")
    assert response.status_code == 200, response.json()
    contact.refresh_from_db()
    assert contact.first_name == "New"
    assert contact.phone == "+447700900001"  # not sent, unchanged
    assert response.json()["tags"] == ["a"]

    response = api.delete(detail(contact.pk))
    assert response.status_code == 204
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert api.get(detail(contact.pk)).status_code == 404


def test_unknown_contact_is_404_with_the_error_body(api):
    response = api.get(detail(999999))
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "not_found"
    assert "999999" in error["message"]


# --- upsert by external id --------------------------------------------------------------------


def test_upsert_creates_then_updates(api, workspace):
    url = f"{URL}by-external-id/crm-42/"
    response = api.put(url, {"first_name": "Grace", "email": "grace@example.com"}, format="json")
    assert response.status_code == 201, response.json()
    created_id = response.json()["id"]
    assert response.json()["external_id"] == "crm-42"

    response = api.put(url, {"last_name": "Hopper"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == created_id
    assert response.json()["first_name"] == "Grace"  # kept
    assert response.json()["last_name"] == "Hopper"
    assert Contact.objects.filter(workspace=workspace, external_id="crm-42").count() == 1

    assert api.get(url).json()["id"] == created_id


def test_upsert_rejects_a_different_external_id_in_the_body(api):
    response = api.put(f"{URL}by-external-id/crm-1/", {"external_id": "crm-2"}, format="json")
    assert response.status_code == 400
    assert "external_id" in error_of(response)["fields"]


def test_get_by_unknown_external_id_is_404(api):
    assert api.get(f"{URL}by-external-id/nope/").status_code == 404


# --- bad input: a clear error that says what and where, nothing written --------------------------


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"phone": "12345"}, "phone", "12345"),
        ({"phone": "+447911123456", "timezone": "Mars/Olympus"}, "timezone", "Mars/Olympus"),
        ({"phone": "+447911123456", "attributes": {"shoe_size": 42}}, "attributes.shoe_size", "Unknown"),
        ({"phone": "+447911123456", "preferred_channel": "pigeon"}, "preferred_channel", "pigeon"),
        ({"phone": "+447911123456", "email": "not-an-email"}, "email", "not-an-email"),
        ({"phone": "+447911123456", "phone_number": "x"}, "phone_number", "Unknown field"),
        ({"first_name": "Only a name"}, "phone", "at least"),
        ({"phone": "+447911123456", "tags": "vip"}, "tags", "list"),
    ],
)
def test_invalid_contact_is_400_naming_the_field(api, workspace, payload, field, words):
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400, response.json()
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert field in error["fields"], error
    assert words.lower() in " ".join(error["fields"][field]).lower()
    assert field in error["message"]
    assert not Contact.objects.exists()


def test_wrongly_typed_attribute_names_the_attribute(api, workspace):
    AttributeDefinitionFactory(workspace=workspace, key="due_date", type="date")
    response = api.post(URL, {"phone": "+447911123456", "attributes": {"due_date": "soon"}}, format="json")
    assert response.status_code == 400
    assert "YYYY-MM-DD" in error_of(response)["fields"]["attributes.due_date"][0]


def test_duplicate_phone_is_400_on_phone(api, workspace):
    ContactFactory(workspace=workspace, phone="+447911123456")
    response = api.post(URL, {"phone": "07911 123456"}, format="json")
    assert response.status_code == 400
    assert "phone" in error_of(response)["fields"]


def test_invalid_patch_changes_nothing(api, workspace):
    contact = ContactFactory(workspace=workspace, first_name="Keep", timezone="")
    response = api.patch(detail(contact.pk), {"first_name": "X", "timezone": "Nowhere/City"}, format="json")
    assert response.status_code == 400
    contact.refresh_from_db()
    assert contact.first_name == "Keep"


def test_body_that_is_not_an_object(api):
    response = api.post(URL, ["a"], format="json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


def test_malformed_json_is_400_with_the_error_body(api):
    response = api.generic("POST", URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


# --- list: filters and pagination -------------------------------------------------------------


def ids(response) -> set[int]:
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_list_filters(api, workspace):
    vip = TagFactory(workspace=workspace, name="vip")
    fr = ContactFactory(
        workspace=workspace, first_name="Amelie", language="fr", preferred_channel="sms", external_id="e-1"
    )
    fr.tags.add(vip)
    en = ContactFactory(workspace=workspace, first_name="Bob", language="en", is_vulnerable=True)
    old = ContactFactory(workspace=workspace, first_name="Old", phone="+447911123555")
    Contact.objects.filter(pk=old.pk).update(updated_at=timezone.now() - dt.timedelta(days=10))
    segment = SegmentFactory(workspace=workspace)  # language = fr

    assert ids(api.get(URL)) == {fr.pk, en.pk, old.pk}
    assert ids(api.get(URL, {"q": "", "tag": "", "vulnerable": ""})) == {fr.pk, en.pk, old.pk}
    assert ids(api.get(URL, {"q": "amel"})) == {fr.pk}
    assert ids(api.get(URL, {"tag": "vip"})) == {fr.pk}
    assert ids(api.get(URL, {"language": "en"})) == {en.pk}
    assert ids(api.get(URL, {"channel": "sms"})) == {fr.pk}
    assert ids(api.get(URL, {"vulnerable": "true"})) == {en.pk}
    assert ids(api.get(URL, {"vulnerable": "false"})) == {fr.pk, old.pk}
    assert ids(api.get(URL, {"segment": segment.pk})) == {fr.pk}
    assert ids(api.get(URL, {"external_id": "e-1"})) == {fr.pk}
    assert ids(api.get(URL, {"phone": "07911 123555"})) == {old.pk}
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert ids(api.get(URL, {"updated_since": since})) == {fr.pk, en.pk}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"segment": 999999}, "segment"),
        ({"channel": "pigeon"}, "channel"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"phone": "123"}, "phone"),
        ({"tags": "vip"}, "tags"),
    ],
)
def test_bad_filters_are_400(api, workspace, params, field):
    response = api.get(URL, params)
    assert response.status_code == 400
    assert field in error_of(response)["fields"]


def test_pagination(api, workspace):
    ContactFactory.create_batch(5, workspace=workspace)
    response = api.get(URL, {"page_size": 2})
    body = response.json()
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert "page=2" in body["next"]
    assert body["previous"] is None
    last = api.get(URL, {"page_size": 2, "page": 3}).json()
    assert len(last["results"]) == 1 and last["next"] is None
    seen = (
        ids(api.get(URL, {"page_size": 2}))
        | ids(api.get(URL, {"page_size": 2, "page": 2}))
        | {row["id"] for row in last["results"]}
    )
    assert len(seen) == 5
    response = api.get(URL, {"page": 99})
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_list_has_no_n_plus_one(api, workspace, django_assert_max_num_queries):
    tags = TagFactory.create_batch(3, workspace=workspace)
    for _ in range(30):
        ContactFactory(workspace=workspace).tags.set(tags)
    api.get(URL)  # the token's last_used_at is written at most once a minute
    # token lookup, count, page, tags
    with django_assert_max_num_queries(5):
        response = api.get(URL, {"page_size": 30})
    assert len(response.json()["results"]) == 30
    assert all(len(row["tags"]) == 3 for row in response.json()["results"])
