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
