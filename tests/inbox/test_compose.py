"""The composer behind the inbox page: the verdict before sending, the collision check, scheduled
replies in the contact's time zone, media only on rich channels, templates with their variables,
canned replies with merge fields, and retry only where it cannot send twice."""

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from channels_app.models import Message
from inbox.models import CannedReply, Reply
from tests.conftest import client_for
from tests.factories import ContactFactory, MembershipFactory, UserFactory
from tests.inbox import ui

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def thread(workspace, agent):
    q = ui.queue(workspace, "collections", agent)
    contact = ContactFactory(
        workspace=workspace, first_name="Nia", phone="+447911123456", timezone="Asia/Tokyo"
    )
    return ui.conversation(workspace, q, contact=contact, text="hello")


def reply(client, c, **data):
    return client.post(f"/inbox/c/{c.number}/reply/", {"channel": "sms", **data}, **HX)


def test_a_reply_goes_through_the_pipeline_as_a_persons_send(agent, thread):
    response = reply(client_for(agent), thread, text="We can help")
    assert response.status_code == 200 and "We can help" in response.content.decode()
    message = Message.objects.get(direction="out")
    assert (message.sent_by, message.origin, message.text) == ("person", "agent", "We can help")
    assert Reply.objects.get(message=message).author == agent


def test_another_agents_newer_reply_is_shown_before_sending(workspace, agent, thread):
    ana = UserFactory(username="ana")
    MembershipFactory(workspace=workspace, user=ana, role="agent")
    thread.queue.members.add(ana)
    seen = timezone.now().isoformat()
    reply(client_for(ana), thread, text="Ana answered first")
    # the agent's page had not shown Ana's reply: the server holds the send with a warning
    held = reply(client_for(agent), thread, text="Me too", seen_at=seen)
    assert "ana replied" in held.content.decode() and "Send anyway" in held.content.decode()
    assert held["HX-Retarget"] == "#compose-errors"
    assert not Message.objects.filter(text="Me too").exists()
    # "Send anyway" sends it
    reply(client_for(agent), thread, text="Me too", seen_at=seen, confirm="1")
    assert Message.objects.filter(text="Me too").exists()


def test_a_scheduled_reply_waits_until_that_time_in_the_contacts_time_zone(agent, thread):
    tomorrow = (timezone.now().astimezone(zoneinfo.ZoneInfo("Asia/Tokyo")) + dt.timedelta(days=1)).date()
    response = reply(client_for(agent), thread, text="Good morning", send_at=f"{tomorrow}T09:00")
    assert "Scheduled for" in response["HX-Trigger"]
    message = Message.objects.get(direction="out")
    assert message.status == Message.Status.DEFERRED
    assert message.due_at == dt.datetime.combine(tomorrow, dt.time(9), zoneinfo.ZoneInfo("Asia/Tokyo"))
    past = reply(client_for(agent), thread, text="x", send_at="2020-01-01T09:00")
    assert "has passed" in past.content.decode()


def test_bad_input_is_refused_next_to_the_composer(agent, thread):
    client = client_for(agent)
    call_media = reply(client, thread, channel="voice", text="see", media_url="https://example.com/a.png")
    assert "voice cannot carry media" in call_media.content.decode()
    missing = reply(
        client, thread, channel="whatsapp", template="payment_reminder", var_payment_reminder_1="Nia"
    )
    assert "needs its amount" in missing.content.decode()
    assert "Unknown template" in reply(client, thread, template="nope").content.decode()
    assert "No fax address" in reply(client, thread, channel="fax", text="x").content.decode()
    assert not Message.objects.filter(direction="out").exists()


def test_canned_replies_come_with_their_merge_fields_filled(workspace, agent, thread):
    CannedReply.objects.create(
        workspace=workspace, shortcut="plan", body="Hi {{contact.first_name}}, a plan?"
    )
    CannedReply.objects.create(workspace=workspace, shortcut="bye", body="Bye")
    html = client_for(agent).get(f"/inbox/c/{thread.number}/canned/", {"q": "pl"}, **HX).content.decode()
    assert 'data-body="Hi Nia, a plan?"' in html and "/bye" not in html


def test_the_verdict_says_why_before_sending(workspace, agent, thread):
    from consent.services.suppression import suppression_add
    from cpaas.tenancy import Actor

    client = client_for(agent)
    ok = client.get(f"/inbox/c/{thread.number}/preview/", {"channel": "sms"}, **HX).content.decode()
    assert 'data-outcome="allow"' in ok
    suppression_add(
        workspace=workspace, actor=Actor.system(), channel_kind="sms", address=thread.contact.phone,
        reason="complaint", note="asked on the phone", at=timezone.now(),
    )  # fmt: skip
    denied = client.get(f"/inbox/c/{thread.number}/preview/", {"channel": "sms"}, **HX).content.decode()
    assert 'data-outcome="deny"' in denied and "Will not be sent" in denied
    assert not Message.objects.filter(direction="out").exists()


def test_retry_only_where_it_cannot_send_twice(workspace, agent, thread):
    client = client_for(agent)
    reply(client, thread, text="first try")
    message = Message.objects.get(direction="out")
    Message.objects.filter(pk=message.pk).update(status=Message.Status.UNKNOWN)
    refused = client.post(f"/inbox/messages/{message.pk}/retry/", **HX)
    assert refused.status_code == 400 and "may have arrived" in refused.content.decode()
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.FAILED, error_reason="Unreachable handset"
    )
    page = client.get(f"/inbox/c/{thread.number}/").content.decode()
    assert "Unreachable handset" in page and ">Retry<" in page
    assert client.post(f"/inbox/messages/{message.pk}/retry/", **HX).status_code == 200
    assert Message.objects.filter(direction="out", text="first try").count() == 2
