"""Authentication, roles, rate limits and workspace isolation."""

import pytest
from rest_framework.test import APIClient

from contacts.models import Contact, Event
from cpaas.services import api_token_revoke
from cpaas.tenancy import Actor
from tests.api.conftest import error_of
from tests.conftest import client_for
from tests.factories import ContactFactory, EventFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts/"


# --- tokens -----------------------------------------------------------------------------------


def test_missing_token_is_401(db):
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer cpk_wrong", "Bearer", "Bearer a b"])
def test_invalid_token_is_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(URL)
    assert response.status_code == 401
    assert error_of(response)["code"] == "authentication_failed"


def test_revoked_token_is_401(api, api_token, admin_user):
    assert api.get(URL).status_code == 200
    api_token_revoke(token=api_token, actor=Actor.for_user(admin_user))
    response = api.get(URL)
    assert response.status_code == 401
    assert "revoked" in error_of(response)["message"]


def test_token_key_is_not_stored(api_token):
    api_token.refresh_from_db()
    assert api_token.key not in (api_token.key_hash, api_token.key_prefix)


def test_per_token_rate_limit(api, api_token, other_api):
    api_token.rate_limit_per_minute = 3
    api_token.save()
    assert [api.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    response = api.get(URL)
    assert response.status_code == 429
    error = error_of(response)
    assert error["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60
    assert error["retry_after_s"] == int(response["Retry-After"])
    # another token has its own budget
    assert other_api.get(URL).status_code == 200


# --- session users and roles ------------------------------------------------------------------


def test_viewer_session_reads_but_cannot_write(viewer, workspace):
    contact = ContactFactory(workspace=workspace)
    client = client_for(viewer)
    assert client.get(URL).status_code == 200
    assert client.get(f"/api/v1/events/?contact={contact.pk}").status_code == 200
    for response in (
        client.post(URL, {"phone": "+447911123456"}, content_type="application/json"),
        client.patch(f"{URL}{contact.pk}/", {"first_name": "x"}, content_type="application/json"),
        client.delete(f"{URL}{contact.pk}/"),
        client.put(f"{URL}by-external-id/x/", {}, content_type="application/json"),
        client.post(
            "/api/v1/events/",
            {"contact": {"id": contact.pk}, "name": "x"},
            content_type="application/json",
        ),
        client.post("/api/v1/events/batch/", {"events": []}, content_type="application/json"),
    ):
        assert response.status_code == 403
        error = error_of(response)
        assert error["code"] == "permission_denied"
        assert "contacts.edit" in error["message"]
    assert Contact.objects.count() == 1 and not Event.objects.exists()


def test_agent_cannot_write_contacts(agent):
    response = client_for(agent).post(URL, {"phone": "+447911123456"}, content_type="application/json")
    assert response.status_code == 403


def test_marketer_session_can_write(marketer):
    response = client_for(marketer).post(URL, {"phone": "+447911123456"}, content_type="application/json")
    assert response.status_code == 201, response.json()


def test_session_api_enforces_csrf(marketer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(marketer)
    response = client.post(URL, {"phone": "+447911123456"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in error_of(response)["message"]


# --- isolation --------------------------------------------------------------------------------


@pytest.fixture
def theirs(workspace):
    """Workspace A's contact with an event; the tests act as workspace B."""
    contact = ContactFactory(workspace=workspace, external_id="a-1")
    EventFactory(contact=contact)
    return contact


def _other_clients(other_api, other_admin):
    return {"token": other_api, "session": client_for(other_admin)}


@pytest.mark.parametrize("who", ["token", "session"])
def test_workspace_b_gets_404_on_workspace_a_objects(theirs, other_api, other_admin, who):
    client = _other_clients(other_api, other_admin)[who]
    url = f"{URL}{theirs.pk}/"
    assert client.get(url).status_code == 404
    assert client.patch(url, {"first_name": "x"}, content_type="application/json").status_code == 404
    assert client.delete(url).status_code == 404
    assert client.get(f"{url}events/").status_code == 404
    assert client.get(f"{URL}by-external-id/a-1/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.first_name != "x"


@pytest.mark.parametrize("who", ["token", "session"])
def test_workspace_b_lists_never_include_workspace_a(theirs, other_workspace, other_api, other_admin, who):
    mine = ContactFactory(workspace=other_workspace)
    client = _other_clients(other_api, other_admin)[who]
    rows = client.get(URL).json()["results"]
    assert [r["id"] for r in rows] == [mine.pk]
    assert client.get(URL, {"q": theirs.first_name}).json()["results"] == []
    assert client.get("/api/v1/events/").json()["results"] == []
    assert client.get("/api/v1/events/", {"contact": theirs.pk}).status_code == 400


def test_workspace_b_upsert_with_a_external_id_makes_its_own_contact(theirs, other_api, other_workspace):
    response = other_api.put(f"{URL}by-external-id/a-1/", {"first_name": "B"}, format="json")
    assert response.status_code == 201
    assert Contact.objects.get(workspace=other_workspace).external_id == "a-1"
    theirs.refresh_from_db()
    assert theirs.first_name != "B"


def test_workspace_b_cannot_record_events_on_a_contact(theirs, other_api):
    body = {"contact": {"id": theirs.pk}, "name": "hack"}
    response = other_api.post("/api/v1/events/", body, format="json")
    assert response.status_code == 400
    assert "not found in this workspace" in error_of(response)["fields"]["contact.id"][0]
    response = other_api.post("/api/v1/events/batch/", {"events": [body]}, format="json")
    assert response.status_code == 400
    assert "events[0].contact.id" in error_of(response)["fields"]
    assert theirs.events.count() == 1


def test_idempotency_keys_are_per_workspace(theirs, other_api, other_workspace, api):
    mine = ContactFactory(workspace=other_workspace)
    api.post(
        "/api/v1/events/", {"contact": {"id": theirs.pk}, "name": "a", "idempotency_key": "k"}, format="json"
    )
    response = other_api.post(
        "/api/v1/events/", {"contact": {"id": mine.pk}, "name": "b", "idempotency_key": "k"}, format="json"
    )
    assert response.status_code == 201
