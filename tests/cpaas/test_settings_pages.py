"""Settings: users and roles, API tokens (shown once, stored hashed), the audit log, the
workspace switcher."""

import pytest
from django.urls import reverse

from cpaas.models import ApiToken, AuditEntry, Membership
from tests.conftest import client_for
from tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def test_change_role_and_deactivate(admin_client, admin_user, marketer):
    membership = Membership.objects.get(user=marketer)
    admin_client.post(reverse("membership_edit", args=[membership.pk]), {"role": "viewer", "is_active": "on"})
    membership.refresh_from_db()
    assert membership.role == "viewer"
    admin_client.post(reverse("membership_edit", args=[membership.pk]), {"role": "viewer"})
    membership.refresh_from_db()
    assert not membership.is_active
    assert AuditEntry.objects.filter(action="cpaas.membership.deactivated").exists()
    assert client_for(marketer).get(reverse("contact_list")).status_code == 302


def test_the_last_admin_cannot_demote_themself(admin_client, admin_user):
    membership = Membership.objects.get(user=admin_user)
    response = admin_client.post(
        reverse("membership_edit", args=[membership.pk]), {"role": "viewer", "is_active": "on"}
    )
    assert "at least one active admin" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == "admin"


def test_token_is_shown_once_and_stored_hashed(admin_client, workspace):
    response = admin_client.post(reverse("token_list"), {"name": "Billing", "rate_limit_per_minute": 600})
    body = response.content.decode()
    token = ApiToken.objects.get(name="Billing")
    key = body.split('id="new-token">')[1].split("<")[0]
    assert key.startswith("cpk_") and token.key_hash == ApiToken.hash_key(key) and key not in token.key_hash
    again = admin_client.get(reverse("token_list")).content.decode()
    assert key not in again and token.key_prefix in again


def test_revoked_token_stops_working(admin_client, api_token, api):
    assert api.get("/api/v1/contacts/").status_code == 200
    admin_client.post(reverse("token_revoke", args=[api_token.pk]))
    api_token.refresh_from_db()
    assert api_token.revoked_at is not None
    response = api.get("/api/v1/contacts/")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Unknown or revoked API token."


def test_audit_log_filters(admin_client, workspace, admin_user):
    admin_client.post(reverse("token_list"), {"name": "One", "rate_limit_per_minute": 60})
    admin_client.post(reverse("attribute_list"), {"key": "plan", "label": "Plan", "type": "text"})
    page = admin_client.get(
        reverse("audit_list"), {"action": "contacts."}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "contacts.attribute.created" in page and "cpaas.api_token.created" not in page
    partial = admin_client.get(
        reverse("audit_list"), {"actor": "alice"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<html" not in partial and "cpaas.api_token.created" in partial


def test_switcher_moves_between_my_workspaces(admin_client, admin_user):
    second = WorkspaceFactory(name="Second Shop", slug="second")
    MembershipFactory(workspace=second, user=admin_user, role="viewer")
    page = admin_client.get(reverse("contact_list")).content.decode()
    assert "Second Shop" in page  # offered in the switcher
    admin_client.post(reverse("workspace_switch"), {"workspace": second.pk})
    # a viewer there: Settings is forbidden now
    assert admin_client.get(reverse("user_list")).status_code == 403


def test_inviting_a_user_offers_the_least_privileged_role_first(admin_client):
    page = admin_client.get(reverse("user_list")).content.decode()
    form = page.split("Invite a user")[1]
    assert '<option value="viewer" selected>' in form
    assert '<option value="admin" selected>' not in form


def test_audit_details_read_as_fields_not_a_python_dict(admin_client, workspace, admin_user):
    from cpaas.audit import audit_fields, audit_record
    from cpaas.tenancy import Actor

    data = {"contact": 7, "changed": {"phone": ["+447700900001", None]}, "tags": ["vip", "new"], "ok": True}
    audit_record(workspace=workspace, actor=Actor.for_user(admin_user), action="test.thing", data=data)
    assert audit_fields(data) == [
        ("Contact", "7"),
        ("Changed · phone", "+447700900001 → —"),
        ("Tags", "vip, new"),
        ("Ok", "yes"),
    ]
    page = admin_client.get(reverse("audit_list"), {"action": "test."}).content.decode()
    assert "<dt>Changed · phone</dt><dd>+447700900001 → —</dd>" in page
    assert "{&#x27;" not in page and "{'" not in page


def test_the_api_docs_describe_journeys_and_consent_as_there_now(admin_client):
    schema = admin_client.get(reverse("api_schema"), {"format": "json"}).json()
    description = schema["info"]["description"]
    assert "later versions" not in description
    assert "journeys" in description and "consent" in description
