"""The inbox settings pages (inbox.manage): queues with members, auto-assignment and capacity,
SLA targets, business hours, the default queue, agents browsing contacts, canned replies. Bad
input is refused beside its field and writes nothing."""

import pytest
from django.urls import reverse

from cpaas.models import AuditEntry, Workspace
from inbox.models import CannedReply, InboxSettings, Queue, QueueMember
from tests.conftest import _member, client_for
from tests.factories import AttributeDefinitionFactory, ContactFactory
from tests.inbox.panel_helpers import conversation, queue

pytestmark = pytest.mark.django_db

WEEK = {f"hours_{d}": "" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def admin(admin_client):
    return admin_client


def queue_data(**over):
    data = {"name": "collections", "label": "Collections", "auto_assign": "least_loaded", "capacity": "5",
            "first_response_min": "15", "resolution_min": "240"}  # fmt: skip
    data.update(over)
    return data


def test_an_admin_creates_a_queue_with_members_and_slas(workspace, admin, agent, admin_user):
    response = admin.post(
        reverse("inbox_queue_create"), {**queue_data(), "members": [str(agent.pk), str(admin_user.pk)]}
    )
    assert response.status_code == 302
    q = Queue.objects.get(workspace=workspace, name="collections")
    assert (q.auto_assign, q.capacity, q.first_response_s, q.resolution_s) == ("least_loaded", 5, 900, 14400)
    assert set(QueueMember.objects.filter(queue=q).values_list("user_id", flat=True)) == {
        agent.pk,
        admin_user.pk,
    }
    html = admin.get(reverse("inbox_settings")).content.decode()
    assert (
        'data-queue="collections"' in html
        and "Least loaded" in html
        and "15 min" in html
        and "gina-agent" in html
    )
    assert AuditEntry.objects.filter(action="inbox.queue.saved").exists()
    # members change: Gina leaves
    admin.post(reverse("inbox_queue_edit", args=[q.pk]), {**queue_data(), "members": [str(admin_user.pk)]})
    assert list(QueueMember.objects.filter(queue=q).values_list("user_id", flat=True)) == [admin_user.pk]


@pytest.mark.parametrize(
    ("over", "field_error"),
    [
        ({"capacity": "0"}, "id_capacity-error"),
        ({"name": ""}, "id_name-error"),
        ({"first_response_min": "-5"}, "id_first_response_min-error"),
        ({"auto_assign": "random"}, "id_auto_assign-error"),
    ],
)
def test_a_bad_queue_is_refused_beside_its_field(workspace, admin, over, field_error):
    response = admin.post(reverse("inbox_queue_create"), queue_data(**over))
    assert response.status_code == 400 and field_error in response.content.decode()
    assert not Queue.objects.exists()


def test_a_queue_name_is_unique_and_members_are_agents(workspace, admin, marketer):
    queue(workspace, "collections")
    response = admin.post(reverse("inbox_queue_create"), queue_data())
    assert "A queue named &#x27;collections&#x27; exists already." in response.content.decode()
    response = admin.post(
        reverse("inbox_queue_create"), {**queue_data(name="other"), "members": [str(marketer.pk)]}
    )
    assert response.status_code == 400 and "id_members-error" in response.content.decode()
    assert Queue.objects.count() == 1


def test_a_queue_holding_conversations_is_not_deleted(workspace, admin):
    busy = queue(workspace, "busy")
    empty = queue(workspace, "empty")
    conversation(workspace, ContactFactory(workspace=workspace), busy)
    response = admin.post(reverse("inbox_queue_delete", args=[busy.pk]), follow=True)
    assert "The queue holds conversations: transfer them first." in response.content.decode()
    admin.post(reverse("inbox_queue_delete", args=[empty.pk]))
    assert list(Queue.objects.values_list("name", flat=True)) == ["busy"]


def test_business_hours_default_queue_idle_time_and_contact_browsing(workspace, admin):
    support = queue(workspace, "support")
    data = {**WEEK, **{f"hours_{d}": "09:00-17:30" for d in ("mon", "tue", "wed", "thu")},
            "hours_fri": "9:00-12:00, 13:00-16:00", "default_queue": str(support.pk), "idle_away_minutes": "20",
            "contacts_open_to_agents": "on"}  # fmt: skip
    assert admin.post(reverse("inbox_settings"), data).status_code == 302
    settings = InboxSettings.objects.get(workspace=workspace)
    assert settings.business_hours["mon"] == [["09:00", "17:30"]]
    assert settings.business_hours["fri"] == [["09:00", "12:00"], ["13:00", "16:00"]]
    assert settings.business_hours["sat"] == []
    assert (settings.default_queue, settings.idle_away_minutes) == (support, 20)
    assert Workspace.objects.get(pk=workspace.pk).contacts_open_to_agents is True
    html = admin.get(reverse("inbox_settings")).content.decode()
    assert 'value="09:00-12:00, 13:00-16:00"' in html
    # around the clock, and browsing closed again
    admin.post(reverse("inbox_settings"), {**WEEK, "around_the_clock": "on", "idle_away_minutes": "20"})
    assert InboxSettings.objects.get(workspace=workspace).business_hours == {}
    assert Workspace.objects.get(pk=workspace.pk).contacts_open_to_agents is False


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"hours_mon": "9 to 5"}, "&#x27;9 to 5&#x27; is not HH:MM-HH:MM."),
        ({"hours_tue": "17:00-09:00"}, "ends before it starts"),
        ({"hours_wed": "25:00-26:00"}, "is not HH:MM to HH:MM"),
        ({}, "Give opening hours for at least one day, or choose around the clock."),
    ],
)
def test_bad_business_hours_are_refused_and_nothing_changes(workspace, admin, hours, message):
    response = admin.post(reverse("inbox_settings"), {**WEEK, **hours, "idle_away_minutes": "7"})
    assert response.status_code == 400 and message in response.content.decode()
    assert not InboxSettings.objects.filter(workspace=workspace, idle_away_minutes=7).exists()


def test_canned_replies_with_merge_fields(workspace, admin):
    AttributeDefinitionFactory(workspace=workspace, key="balance", label="Balance", type="number")
    body = "Hi {{contact.first_name|there}}, your balance is {{contact.balance}}. {{agent.name}}"
    assert (
        admin.post(reverse("inbox_canned_create"), {"shortcut": "/Balance", "body": body}).status_code == 302
    )
    canned = CannedReply.objects.get(workspace=workspace)
    assert (canned.shortcut, canned.body) == ("balance", body)
    response = admin.post(
        reverse("inbox_canned_create"), {"shortcut": "other", "body": "Hi {{contact.shoe_size}}"}
    )
    assert "{{contact.shoe_size}} is neither a contact field nor an attribute." in response.content.decode()
    response = admin.post(reverse("inbox_canned_create"), {"shortcut": "balance", "body": "Again"})
    assert "/balance exists already." in response.content.decode()
    admin.post(reverse("inbox_canned_edit", args=[canned.pk]), {"shortcut": "balance", "body": "Changed"})
    assert CannedReply.objects.get().body == "Changed"
    admin.post(reverse("inbox_canned_delete", args=[canned.pk]))
    assert not CannedReply.objects.exists()


@pytest.mark.parametrize("name", ["inbox_settings", "inbox_queue_create", "inbox_canned_create"])
def test_agents_cannot_manage_the_inbox(workspace, agent, name):
    assert client_for(agent).get(reverse(name)).status_code == 403
    assert client_for(agent).post(reverse(name), {}).status_code == 403


def test_another_workspaces_queue_is_not_found(workspace, other_workspace, other_admin):
    q = queue(workspace, "mine")
    c = client_for(other_admin)
    assert c.get(reverse("inbox_queue_edit", args=[q.pk])).status_code == 404
    assert c.post(reverse("inbox_queue_delete", args=[q.pk])).status_code == 404
    assert Queue.objects.filter(pk=q.pk).exists()
    _member(other_workspace, "agent", "x-agent")
