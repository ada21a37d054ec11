"""The inbound pipeline through the real webhook endpoints (the sandbox's signed JSON): signature,
contact by address, dedupe on replay, keywords first, the WhatsApp window, the event for the
apps above; and status callbacks."""

import datetime as dt
import json
import logging

import pytest
from django.urls import reverse

from channels_app.models import Message
from channels_app.providers.sandbox import SIGNATURE_HEADER, sign
from channels_app.services.dispatch import dispatch_pending
from channels_app.services.messages import message_send
from contacts.models import Contact, Event
from cpaas import bus
from cpaas.tenancy import Actor

pytestmark = pytest.mark.django_db
S = Message.Status
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def post(client, channel, payload, *, kind="inbound", secret=None, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    secret = secret or channel.credentials["secret"]
    return client.post(
        reverse(f"webhook_{kind}", kwargs={"provider": "sandbox", "token": channel.webhook_token}),
        data=body,
        content_type="application/json",
        headers={SIGNATURE_HEADER: sign(secret, body)},
    )


def reply(client, channel, text, *, frm="+447911123456", pid="in-1", **extra):
    return post(client, channel, {"id": pid, "from": frm, "text": text, **extra})


def test_an_inbound_message_is_stored_once_with_its_contact_and_event(client, workspace, channels):
    received = []
    handler = bus.subscribe("message.received")(received.append)
    try:
        # when a new number writes in
        response = reply(client, channels["sms"], "Hi, is my order shipped?", frm="07911 123457")
        assert response.status_code == 200
        # then a contact exists for the number (E.164) and the message is stored against it
        contact = Contact.objects.get(workspace=workspace, phone="+447911123457")
        message = Message.objects.get(direction="in")
        assert (message.contact, message.status, message.text) == (
            contact,
            S.RECEIVED,
            "Hi, is my order shipped?",
        )
        # and the apps above hear of it through an event
        event = Event.objects.get(name="message.received")
        assert event.contact == contact and event.properties["message_id"] == message.pk
        assert event.properties["channel"] == "sms" and event.properties["keyword"] == ""
        assert [e.pk for e in received] == [event.pk]

        # when the provider replays the same webhook
        assert (
            reply(client, channels["sms"], "Hi, is my order shipped?", frm="07911 123457").status_code == 200
        )
        # then nothing new is stored or announced
        assert Message.objects.filter(direction="in").count() == 1
        assert Event.objects.filter(name="message.received").count() == 1 and len(received) == 1
    finally:
        bus.unsubscribe("message.received", handler)


def test_an_invalid_signature_is_403_and_nothing_is_stored(client, workspace, channels):
    response = post(
        client, channels["sms"], {"id": "x", "from": "+447911123457", "text": "hi"}, secret="wrong"
    )
    assert response.status_code == 403
    assert not Message.objects.exists()
    assert not Contact.objects.filter(phone="+447911123457").exists()
    unsigned = client.post(
        reverse("webhook_inbound", kwargs={"provider": "sandbox", "token": channels["sms"].webhook_token}),
        data=b"{}",
        content_type="application/json",
    )
    assert unsigned.status_code == 403


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"from": "+447911123457", "text": "x"}).encode(), "'id' is required"),
        (json.dumps({"id": "1", "from": "+4479", "text": "x"}).encode(), "Bad sender address"),
        (json.dumps({"id": "1", "from": "+447911123457", "text": 5}).encode(), "'text' must be a string"),
    ],
)
def test_a_malformed_payload_is_400_logged_and_nothing_is_stored(
    client, workspace, channels, caplog, raw, words
):
    with caplog.at_level(logging.WARNING, logger="channels_app.webhooks"):
        response = post(client, channels["sms"], None, raw=raw)
    assert response.status_code == 400
    assert words in response.json()["error"]["message"]
    assert "malformed payload" in caplog.text
    assert not Message.objects.exists() and not Event.objects.exists()


def test_an_unknown_channel_token_is_404(client, workspace):
    response = client.post(
        reverse("webhook_inbound", kwargs={"provider": "sandbox", "token": "nope"}),
        data=b"{}",
        content_type="application/json",
    )
    assert response.status_code == 404
    response = client.post(
        reverse("webhook_inbound", kwargs={"provider": "carrier-pigeon", "token": "x"}),
        data=b"{}",
        content_type="application/json",
    )
    assert response.status_code == 404


def test_an_inbound_stop_blocks_a_later_marketing_send(client, workspace, channels, contact):
    from consent.services import consent_change

    # given a contact who opted in to marketing by SMS
    consent_change(
        contact=contact,
        channel_kind="sms",
        purpose="marketing",
        status="opted_in",
        actor=Actor.system("test"),
        method="web_form",
        reason="Signed up at checkout",
        at=NOW - dt.timedelta(days=1),
        evidence={"notice_text": "Yes, send me offers by SMS."},
    )
    before = message_send(
        workspace=workspace,
        contact=contact,
        channel="sms",
        content={"text": "Sale!"},
        purpose="marketing",
        now=NOW,
    )
    assert before.status == S.QUEUED

    # when the contact replies STOP
    assert reply(client, channels["sms"], "stop", pid="stop-1").status_code == 200
    inbound = Message.objects.get(direction="in")
    assert inbound.content["keyword"] == "stop"
    # then the confirmation goes back on the same channel, although they just opted out
    confirmation = Message.objects.get(reply_to=inbound)
    assert confirmation.status == S.QUEUED and confirmation.channel == channels["sms"]
    assert "unsubscribed" in confirmation.text and confirmation.consent_rule == "keyword.stop"
    # and a later marketing send is blocked with the registry's reason
    after = message_send(
        workspace=workspace,
        contact=contact,
        channel="sms",
        content={"text": "Sale!"},
        purpose="marketing",
        now=NOW + dt.timedelta(minutes=5),
    )
    assert after.status == S.BLOCKED and after.consent_outcome == "deny"
    assert after.consent_reason
    # the event still reaches the apps above, marked as a keyword
    assert Event.objects.get(name="message.received").properties["keyword"] == "stop"


def test_an_inbound_whatsapp_message_opens_the_24_hour_window(client, workspace, channels, contact):
    def free_form(at):
        return message_send(
            workspace=workspace,
            contact=contact,
            channel="whatsapp",
            content={"text": "Sure, here it is"},
            now=at,
        )

    assert free_form(NOW - dt.timedelta(hours=1)).status == S.BLOCKED
    reply(client, channels["whatsapp"], "Can you resend my invoice?", pid="wa-1", at=NOW.isoformat())
    assert free_form(NOW + dt.timedelta(hours=2)).status == S.QUEUED
    assert free_form(NOW + dt.timedelta(hours=25)).status == S.BLOCKED


def test_a_numbered_reply_to_buttons_sent_as_text_is_the_button(client, workspace, channels, contact):
    message_send(
        workspace=workspace,
        contact=contact,
        channel="sms",
        content={
            "text": "Pay now?",
            "buttons": [{"id": "pay", "title": "Yes"}, {"id": "later", "title": "Later"}],
        },
        now=NOW,
    )
    reply(client, channels["sms"], "2", pid="n-2")
    event = Event.objects.get(name="message.received")
    assert event.properties["button"] == "later"


def test_a_pressed_button_arrives_with_its_id(client, workspace, channels, contact):
    reply(client, channels["whatsapp"], "Morning", pid="b-1", button="slot_am")
    assert Event.objects.get(name="message.received").properties["button"] == "slot_am"


def test_status_callbacks_update_idempotently_and_in_any_order(client, workspace, channels, contact):
    message = message_send(
        workspace=workspace,
        contact=contact,
        channel="sms",
        content={"text": "Hi"},
        options={"sandbox": {"receipt": "none"}},
        now=NOW,
    )
    dispatch_pending(now=NOW)
    pid = Message.objects.get(pk=message.pk).provider_message_id

    def status(*items):
        return post(
            client, channels["sms"], {"statuses": [{"id": pid, "status": s} for s in items]}, kind="status"
        )

    assert status("read").status_code == 200
    assert status("delivered", "sent").status_code == 200
    assert status("read").status_code == 200
    message.refresh_from_db()
    assert message.status == S.READ
    assert list(message.status_events.filter(source="webhook").values_list("status", "applied")) == [
        ("read", True),
        ("delivered", False),
        ("sent", False),
        ("read", False),
    ]
    bad = post(client, channels["sms"], {"statuses": [{"id": pid, "status": "teleported"}]}, kind="status")
    assert bad.status_code == 400


def test_a_wrong_signature_on_a_status_callback_changes_nothing(client, workspace, channels, contact):
    message = message_send(
        workspace=workspace,
        contact=contact,
        channel="sms",
        content={"text": "Hi"},
        options={"sandbox": {"receipt": "none"}},
        now=NOW,
    )
    dispatch_pending(now=NOW)
    pid = Message.objects.get(pk=message.pk).provider_message_id
    response = post(
        client,
        channels["sms"],
        {"statuses": [{"id": pid, "status": "delivered"}]},
        kind="status",
        secret="forged",
    )
    assert response.status_code == 403
    assert Message.objects.get(pk=message.pk).status == S.SENT
