"""The consent API: read and change consent (evidence required), events, keyword simulation,
the batch decision, the suppression list, GDPR export; isolation, roles and the schema."""

import pytest
import yaml
from django.core.cache import cache

from consent.models import ConsentEvent, Suppression
from tests.api.conftest import error_of
from tests.conftest import client_for
from tests.consent.conftest import NOON, opt_in
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_throttle_left_over():
    cache.clear()


def url(contact, suffix=""):
    return f"/api/v1/consent/contacts/{contact.pk}/{suffix}"


OPT_IN = {
    "channel": "sms",
    "purpose": "marketing",
    "status": "opted_in",
    "method": "web_form",
    "reason": "Checkout form",
    "evidence": {"notice_text": "Texts about offers", "notice_version": "v3", "ip_address": "203.0.113.7"},
    "occurred_at": "2026-05-01T10:00:00Z",
}


def test_change_then_read_a_contact_s_consent(api, contact):
    response = api.post(url(contact), OPT_IN, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["record"]["status"] == "opted_in" and body["record"]["confirmed_at"] == "2026-05-01T10:00:00Z"
    assert body["event"]["actor_type"] == "token" and body["event"]["actor_label"] == "API token Test"
    assert body["event"]["evidence"]["ip_address"] == "203.0.113.7"
    read = api.get(url(contact)).json()
    assert read["records"][0]["channel"] == "sms" and read["suppressed_channels"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"evidence": {}}, "evidence"),
        ({"reason": ""}, "reason"),
        ({"channel": "fax"}, "channel"),
        ({"purpose": "raffle"}, "purpose"),
        ({"occurred_at": "2026-05-01T10:00:00"}, "occurred_at"),
        ({"colour": "red"}, "colour"),
        ({"evidence": {"notice_text": "x", "shoe": 9}}, "evidence.shoe"),
    ],
)
def test_bad_changes_are_400_with_field_errors(api, contact, change, field):
    response = api.post(url(contact), {**OPT_IN, **change}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error" and field in error["fields"], error
    assert not ConsentEvent.objects.exists()


def test_events_list_with_filters(api, contact, workspace):
    opt_in(contact)
    opt_in(contact, channel="email")
    other = ContactFactory(workspace=workspace)
    opt_in(other)
    body = api.get("/api/v1/consent/events/", {"contact": contact.pk, "channel": "email"}).json()
    assert body["count"] == 1 and body["results"][0]["channel"] == "email"
    assert api.get("/api/v1/consent/events/").json()["count"] == 3
    assert api.get("/api/v1/consent/events/", {"since": "2026-05-01"}).status_code == 400  # needs a zone
    assert "method" in error_of(api.get("/api/v1/consent/events/", {"method": "pigeon"}))["fields"]


def test_keyword_simulation(api, contact):
    body = {"contact_id": contact.pk, "channel": "sms", "text": " Stop ", "inbound_message_id": "in-77"}
    response = api.post("/api/v1/consent/keywords/simulate/", body, format="json")
    assert response.status_code == 200
    result = response.json()
    assert (result["action"], result["handled"], result["events"]) == ("stop", True, 5)
    assert result["reply"].startswith("Workspace A: you are unsubscribed")
    again = api.post("/api/v1/consent/keywords/simulate/", body, format="json").json()
    assert again["duplicate"] is True and again["events"] == 0
    assert api.get(url(contact)).json()["suppressed_channels"] == ["sms"]  # STOP: the channel it came on
    chat = api.post(
        "/api/v1/consent/keywords/simulate/", {"contact_id": contact.pk, "channel": "sms", "text": "See you Friday"},
        format="json",
    ).json()  # fmt: skip
    assert chat["handled"] is False and chat["reply"] == ""


def test_keyword_dry_run_changes_nothing(api, contact):
    body = {"contact_id": contact.pk, "channel": "sms", "text": "BAJA", "language": "es", "dry_run": True}
    result = api.post("/api/v1/consent/keywords/simulate/", body, format="json").json()
    assert result["action"] == "stop" and result["reply"].startswith("Workspace A: se ha dado de baja")
    assert not ConsentEvent.objects.exists()


def test_batch_check(api, contact, workspace):
    opt_in(contact)
    other = ContactFactory(workspace=workspace)
    body = {
        "contact_ids": [contact.pk, other.pk],
        "channel": "sms",
        "purpose": "marketing",
        "at": NOON.isoformat(),
    }
    decisions = api.post("/api/v1/consent/check/", body, format="json").json()["decisions"]
    assert [(d["contact_id"], d["outcome"], d["rule"]) for d in decisions] == [
        (contact.pk, "allow", "consent.opted_in"),
        (other.pk, "deny", "consent.missing"),
    ]
    bad = api.post("/api/v1/consent/check/", {**body, "purpose": "raffle"}, format="json")
    assert bad.status_code == 400 and "purpose" in error_of(bad)["fields"]


@pytest.mark.parametrize("huge", [2**63, -(2**63) - 1, 460044263636880223538789467815936])
def test_check_with_an_id_no_database_column_can_hold_is_not_found_not_a_500(api, contact, huge):
    """schemathesis found it: PostgreSQL refused the whole query ("bigint out of range")."""
    body = {"contact_ids": [contact.pk, huge], "channel": "sms", "purpose": "marketing"}

    response = api.post("/api/v1/consent/check/", body, format="json")

    assert response.status_code == 400
    assert f"Not found in this workspace: [{huge}]" in str(error_of(response)["fields"]["contact_ids"])


def test_suppressions_api(api, contact):
    response = api.post(
        "/api/v1/consent/suppressions/", {"address": "+447911123456", "reason": "complaint", "note": "Ticket 5"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201 and response.json()["channel"] == ""
    found = api.get("/api/v1/consent/suppressions/", {"address": "07911 123456"}).json()
    assert found["count"] == 1 and found["results"][0]["address_hint"] == "+44•••••••456"
    assert api.get("/api/v1/consent/suppressions/", {"address": "+447911000000"}).json()["count"] == 0
    bad = api.post(
        "/api/v1/consent/suppressions/", {"address": "123", "reason": "admin", "note": "x"}, format="json"
    )
    assert bad.status_code == 400 and "address" in error_of(bad)["fields"]


def test_gdpr_export_api(api, contact):
    opt_in(contact)
    body = api.get(url(contact, "export/")).json()
    assert (
        body["contact_id"] == contact.pk
        and body["sections"]["consent"]["events"][0]["notice_version"] == "v3"
    )


# --- isolation and roles ---------------------------------------------------------------------------


def test_another_workspace_s_contact_is_404_everywhere(other_api, contact):
    opt_in(contact)
    for response in (
        other_api.get(url(contact)),
        other_api.post(url(contact), OPT_IN, format="json"),
        other_api.get(url(contact, "export/")),
        other_api.post(
            "/api/v1/consent/keywords/simulate/",
            {"contact_id": contact.pk, "channel": "sms", "text": "STOP"},
            format="json",
        ),  # fmt: skip
    ):
        assert response.status_code == 404, response.content
    assert ConsentEvent.objects.count() == 1  # nothing happened to workspace A's contact
    assert other_api.get("/api/v1/consent/events/").json()["count"] == 0
    assert other_api.get("/api/v1/consent/events/", {"contact": contact.pk}).status_code == 400
    check = other_api.post(
        "/api/v1/consent/check/",
        {"contact_ids": [contact.pk], "channel": "sms", "purpose": "otp"},
        format="json",
    )
    assert check.status_code == 400 and "Not found in this workspace" in error_of(check)["message"]


def test_another_workspace_does_not_see_the_suppression_list(api, other_api):
    api.post(
        "/api/v1/consent/suppressions/",
        {"address": "+447911123456", "reason": "admin", "note": "n"},
        format="json",
    )
    assert Suppression.objects.count() == 1
    assert other_api.get("/api/v1/consent/suppressions/", {"address": "+447911123456"}).json()["count"] == 0


def test_session_roles(viewer, marketer, contact):
    viewer_client = client_for(viewer)
    assert viewer_client.get(url(contact)).status_code == 200
    assert viewer_client.post(url(contact), OPT_IN, content_type="application/json").status_code == 403
    assert client_for(marketer).get(url(contact, "export/")).status_code == 403
    assert (
        viewer_client.post(
            "/api/v1/consent/check/", {"contact_ids": [contact.pk], "channel": "sms", "purpose": "otp"},
            content_type="application/json",
        ).status_code
        == 200
    )  # fmt: skip


def test_every_consent_endpoint_is_in_the_schema(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    paths = {
        "/api/v1/consent/contacts/{contact_id}/": {"get", "post"},
        "/api/v1/consent/contacts/{contact_id}/export/": {"get"},
        "/api/v1/consent/events/": {"get"},
        "/api/v1/consent/keywords/simulate/": {"post"},
        "/api/v1/consent/check/": {"post"},
        "/api/v1/consent/suppressions/": {"get", "post"},
    }
    for path, methods in paths.items():
        assert methods <= set(schema["paths"][path]), path
        for method in methods:
            operation = schema["paths"][path][method]
            assert (
                operation["tags"] == ["consent"]
                and "404" in operation["responses"]
                or "400" in operation["responses"]
            )
    change = schema["components"]["schemas"]["ConsentChangeInputRequest"]
    assert {"channel", "purpose", "status", "method", "reason"} <= set(change["required"])
    assert "notice_text" in str(schema["components"]["schemas"]["EvidenceRequest"])
