"""Who sees what: agents their queues' conversations (and those assigned to them), supervisors
and admins all; contacts only through a conversation unless the workspace opens them; live
events only to the sockets of those who may see the conversation, and only after commit."""

import pytest
from django.db import transaction
from django.urls import reverse

from cpaas.models import Membership, RealtimeEvent
from cpaas.realtime import topic_groups, workspace_group
from cpaas.tenancy import Actor
from inbox import live, services
from inbox.models import Conversation
from inbox.selectors import Viewer, contact_visible, conversation_list, visible_conversations
from tests.conftest import client_for
from tests.factories import ContactFactory
from tests.inbox.conftest import inbound, make_agent, make_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_queues(workspace):
    support, billing = make_queue(workspace, "support"), make_queue(workspace, "billing")
    a = ContactFactory(workspace=workspace, phone="+447911000001", first_name="Sue")
    b = ContactFactory(workspace=workspace, phone="+447911000002", first_name="Bill")
    inbound(a, "I need a hand")
    inbound(b, "About my invoice")
    Conversation.objects.filter(contact=b).update(queue=billing)
    return support, billing, Conversation.objects.get(contact=a), Conversation.objects.get(contact=b)


def test_an_agent_sees_their_queues_and_what_is_assigned_to_them(workspace, two_queues, admin_user):
    support, billing, sue, bill = two_queues
    jo = make_agent(workspace, "jo", queues=[support])
    viewer = Viewer.for_member(workspace, jo, "agent")
    assert list(visible_conversations(viewer)) == [sue]
    services.conversation_assign(actor=Actor.for_user(admin_user), conversation=bill, assignee=jo)
    assert set(visible_conversations(viewer)) == {sue, bill}
    admin = Viewer.for_member(workspace, admin_user, "admin")
    assert set(conversation_list(admin)) == {sue, bill}


def test_another_workspace_sees_nothing(workspace, other_workspace, two_queues, other_admin):
    assert not visible_conversations(Viewer.for_member(other_workspace, other_admin, "admin")).exists()


def test_contacts_pages_answer_404_to_agents_unless_the_workspace_opens_them(
    workspace, two_queues, admin_user
):
    support, billing, sue, bill = two_queues
    jo = make_agent(workspace, "jo", queues=[support])
    client = client_for(jo)
    for url in (reverse("contact_list"), reverse("contact_detail", args=[sue.contact_id]),
                reverse("consent_contact", args=[sue.contact_id]), f"/api/v1/contacts/{sue.contact_id}/"):  # fmt: skip
        assert client.get(url).status_code == 404, url
    assert "Contacts</a>" not in client.get(reverse("consent_home")).content.decode()
    viewer = Viewer.for_member(workspace, jo, "agent")
    assert contact_visible(viewer, sue.contact_id) and not contact_visible(viewer, bill.contact_id)
    # the workspace opens every contact to agents
    services.inbox_settings_update(
        actor=Actor.for_user(admin_user), workspace=workspace, contacts_open_to_agents=True
    )
    assert client.get(reverse("contact_list")).status_code == 200
    assert client.get(reverse("contact_detail", args=[bill.contact_id])).status_code == 200
    assert client.get(f"/api/v1/contacts/{bill.contact_id}/").status_code == 200
    # other roles were never limited
    assert client_for(admin_user).get(reverse("contact_list")).status_code == 200


def test_an_agent_s_socket_joins_only_their_queues(workspace, other_workspace, two_queues, admin_user):
    support, billing, sue, bill = two_queues
    jo = make_agent(workspace, "jo", queues=[support])
    membership = Membership.objects.get(user=jo, workspace=workspace)
    groups = topic_groups(membership, "inbox")
    assert workspace_group(workspace.pk, f"inbox.queue.{support.pk}") in groups
    assert workspace_group(workspace.pk, f"inbox.queue.{billing.pk}") not in groups
    assert workspace_group(workspace.pk, live.ALL) not in groups
    admin = Membership.objects.get(user=admin_user, workspace=workspace)
    assert workspace_group(workspace.pk, live.ALL) in topic_groups(admin, "inbox")


def test_events_go_to_the_conversation_s_queue_only_after_commit(
    workspace, two_queues, admin_user, django_capture_on_commit_callbacks, settings
):
    settings.REALTIME_MODE = "relay"
    support, billing, sue, bill = two_queues
    RealtimeEvent.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        services.note_add(actor=Actor.for_user(admin_user), conversation=bill, body="check the invoice")
    groups = set(RealtimeEvent.objects.values_list("group", flat=True))
    assert workspace_group(workspace.pk, f"inbox.queue.{billing.pk}") in groups
    assert workspace_group(workspace.pk, f"inbox.queue.{support.pk}") not in groups
    payload = RealtimeEvent.objects.first().payload
    assert payload["what"] == "note" and payload["conversation_id"] == bill.pk


def test_a_rolled_back_change_is_never_announced(
    workspace, two_queues, admin_user, django_capture_on_commit_callbacks
):
    support, billing, sue, bill = two_queues
    RealtimeEvent.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                services.note_add(actor=Actor.for_user(admin_user), conversation=sue, body="draft")
                raise RuntimeError("the request failed after the note")
        except RuntimeError:
            pass
    assert callbacks == [] and not RealtimeEvent.objects.exists()
    assert not sue.entries.filter(kind="note").exists()


def test_an_agent_sees_the_contact_s_messages_but_not_another_queue_s_notes(workspace, admin_user, api):
    from django.utils import timezone

    support, billing = make_queue(workspace, "support"), make_queue(workspace, "billing")
    contact = ContactFactory(workspace=workspace, phone="+447911000003")
    inbound(contact, "About my invoice", now=timezone.now())
    old = Conversation.objects.get(contact=contact)
    Conversation.objects.filter(pk=old.pk).update(queue=billing)
    services.note_add(actor=Actor.for_user(admin_user), conversation=old, body="billing-only remark")
    services.conversation_resolve(actor=Actor.for_user(admin_user), conversation=old)
    # months later they write again: a new conversation, in support
    inbound(contact, "New question", now=timezone.now() + __import__("datetime").timedelta(days=60))
    new = Conversation.objects.exclude(status="resolved").get(contact=contact)
    assert new.queue == support
    jo = make_agent(workspace, "jo", queues=[support])
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(jo)
    items = client.get(f"/api/v1/conversations/{new.number}/").json()["timeline"]
    texts = [i["message"]["text"] for i in items if i["message"]]
    assert texts == ["About my invoice", "New question"]
    assert not any(i["entry"] and i["entry"]["body"] == "billing-only remark" for i in items)
    items = api.get(f"/api/v1/conversations/{new.number}/").json()["timeline"]
    assert any(i["entry"] and i["entry"]["body"] == "billing-only remark" for i in items)
