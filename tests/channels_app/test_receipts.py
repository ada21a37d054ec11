"""Receipts are never lost: one that arrives before the dispatcher has recorded the send (only
the provider's id to go by) is kept and applied when the send is recorded; the sandbox's
receipts are marked sent and applied in one transaction, so a crash in between loses none; and
a message with a delivery receipt never triggers its fallback, however late the receipt came
relative to the rest of the pipeline."""

import urllib.parse

import pytest
from django.test import override_settings

from channels_app.models import Channel, Message
from channels_app.providers.base import SendResult, StatusUpdate
from channels_app.services import dispatch

from .conftest import at, drain
from .providers.twilio.fake import ACCOUNT_SID
from .providers.twilio.test_twilio import fresh, send, signed_post

pytestmark = pytest.mark.django_db
S = Message.Status
SID = "SM1f0e8ae6ade43cb3c0ce4525424e404f"


def callback(client, channel, status: str, sid: str = SID, query: str = ""):
    """Twilio's status callback as it comes when the StatusCallback URL has no reference."""
    body = urllib.parse.urlencode({"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID})
    response = signed_post(client, channel, "status", body, query=query)
    assert response.status_code == 200
    return response


def test_a_receipt_that_arrives_before_the_send_is_recorded_is_applied_when_it_is(
    client, workspace, contact, twilio
):
    # given a message a worker has claimed and is handing to Twilio
    message = send(workspace, contact)
    claimed = dispatch.claim(now=at(0), limit=10)
    assert fresh(message).status == S.SENDING
    # when Twilio's "delivered" arrives first, naming only its own SID
    callback(client, twilio["sms"], "delivered")
    assert fresh(message).status == S.SENDING  # nothing to match it with yet
    # and then the worker records Twilio's answer (the SID)
    dispatch.record(
        channel=twilio["sms"],
        messages=[fresh(message)],
        results=[SendResult.accepted(SID)],
        now=at(1),
        token=claimed.token,
    )
    # then the message is delivered: the receipt was kept, not dropped
    m = fresh(message)
    assert (m.status, m.provider_message_id) == (S.DELIVERED, SID)
    assert list(m.status_events.values_list("status", "source")) == [
        ("sent", "dispatcher"),
        ("delivered", "receipt"),
    ]


def test_a_receipt_kept_while_the_send_was_being_recorded_is_applied_by_the_next_sweep(
    workspace, contact, channels
):
    # given a receipt kept (its message not found), and the send recorded without it
    message = send(workspace, contact, options={"sandbox": {"receipt": "none"}})
    from channels_app.services.status import statuses_apply

    statuses_apply(
        channel=channels["sms"],
        updates=[StatusUpdate(status="delivered", provider_message_id="P-1")],
        now=at(0),
    )
    Message.objects.filter(pk=message.pk).update(status=S.SENT, sent_at=at(0), provider_message_id="P-1")
    # when the dispatcher sweeps
    drain(1)
    # then the receipt is applied
    assert fresh(message).status == S.DELIVERED


def test_a_crash_between_marking_a_sandbox_receipt_sent_and_applying_it_loses_nothing(
    workspace, contact, monkeypatch
):
    # given a message the sandbox accepted, its receipt due at 0.5 s
    message = send(workspace, contact)
    drain(0)
    assert fresh(message).status == S.SENT
    # when the process dies while the receipt is being applied
    from channels_app.services import status

    def crash(**kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(status, "statuses_apply", crash)
    with pytest.raises(SystemExit):
        drain(1)
    monkeypatch.undo()
    # then the receipt is still due, and the next sweep delivers it
    drain(2)
    m = fresh(message)
    assert m.status == S.DELIVERED
    assert m.status_events.filter(status=S.DELIVERED, source="receipt").count() == 1


def test_a_late_delivery_receipt_never_sends_the_fallback(client, workspace, contact, twilio):
    # given WhatsApp with an SMS fallback after 30 s; Twilio delivers it, but its receipt (SID
    # only) arrives while our worker is still recording the hand-over
    wa = send(
        workspace,
        contact,
        channel="whatsapp",
        content={"text": "Your card is blocked", "template": {"name": "card_blocked"}},
        fallback=["sms"],
        fallback_after_s=30,
    )
    claimed = dispatch.claim(now=at(0), limit=10)
    callback(client, twilio["whatsapp"], "delivered")
    dispatch.record(
        channel=twilio["whatsapp"],
        messages=[fresh(wa)],
        results=[SendResult.accepted(SID)],
        now=at(0),
        token=claimed.token,
    )
    # when the fallback's time comes and goes
    for second in (31, 60, 300):
        drain(second)
    # then no SMS: the person already has the message
    assert fresh(wa).status == S.DELIVERED
    assert not Message.objects.filter(kind="sms").exists()


@override_settings(CHANNELS_SEND_DEADLINE_S=0.5)
def test_a_fallback_waits_for_an_unknown_outcome_and_a_late_delivery_cancels_it(
    client, workspace, contact, twilio, fake
):
    # given WhatsApp with an SMS fallback after 30 s, and Twilio resetting the connection after
    # it took the message (the outcome is unknown)
    fake.fault = "reset"
    wa = send(
        workspace,
        contact,
        channel="whatsapp",
        content={"text": "Your card is blocked", "template": {"name": "card_blocked"}},
        fallback=["sms"],
        fallback_after_s=30,
    )
    drain(0)
    assert fresh(wa).status == "unknown"
    fake.fault = ""
    # when the fallback's time passes, it waits instead of guessing
    drain(31)
    drain(120)
    assert not Message.objects.filter(kind="sms").exists()
    # and Twilio's callback, long after, says it was delivered
    callback(client, twilio["whatsapp"], "delivered", sid="SM" + "5" * 32, query=f"ref={wa.reference}")
    drain(600)
    assert fresh(wa).status == S.DELIVERED
    assert not Message.objects.filter(kind="sms").exists()
    assert len(fake.messages()) == 1


@override_settings(CHANNELS_SEND_DEADLINE_S=0.5)
def test_an_unknown_outcome_settled_as_failed_moves_the_chain_on(client, workspace, contact, twilio, fake):
    fake.fault = "reset"
    wa = send(
        workspace,
        contact,
        channel="whatsapp",
        content={"text": "Your card is blocked", "template": {"name": "card_blocked"}},
        fallback=["sms"],
    )
    drain(0)
    fake.fault = ""
    body = urllib.parse.urlencode(
        {
            "MessageSid": "SM" + "6" * 32,
            "MessageStatus": "undelivered",
            "ErrorCode": "63016",
            "AccountSid": ACCOUNT_SID,
        }
    )
    signed_post(client, twilio["whatsapp"], "status", body, query=f"ref={wa.reference}")
    assert (fresh(wa).status, fresh(wa).error_code) == (S.FAILED, "63016")
    sms = Message.objects.get(kind="sms")
    assert sms.fallback_of_id == wa.pk
    assert (sms.status, Channel.objects.get(pk=sms.channel_id).provider) == (S.QUEUED, "twilio")


@override_settings(CHANNELS_RETRY_BASE_S=2.0)
def test_a_receipt_for_a_message_queued_for_a_retry_settles_it_and_it_is_not_sent_again(
    workspace, contact, monkeypatch
):
    from channels_app.models import SandboxDelivery

    monkeypatch.setattr(dispatch.random, "random", lambda: 1.0)  # the retry comes at 2 s
    # given the sandbox (idempotent) took the message but its answer was lost: a retry is queued
    message = send(workspace, contact, options={"sandbox": {"answer_lost_times": 1, "receipt_delay_s": 1}})
    drain(0)
    assert (fresh(message).status, fresh(message).error_code) == (S.QUEUED, "timeout")
    # when its delivery receipt comes before the retry
    drain(1)
    # then it is delivered, and the retry never happens
    assert fresh(message).status == S.DELIVERED
    drain(2)
    drain(60)
    m = fresh(message)
    assert (m.status, m.attempts) == (S.DELIVERED, 1)
    assert SandboxDelivery.objects.filter(reference=m.reference).count() == 1


@override_settings(CHANNELS_SEND_DEADLINE_S=0.5)
def test_an_otp_whose_first_send_is_unknown_then_failed_falls_back_with_the_real_code(
    client, workspace, contact, twilio, fake
):
    from django.utils import timezone

    from channels_app.services.verify import verification_start

    # given an OTP by WhatsApp then SMS, and Twilio resetting the WhatsApp call after taking it
    fake.fault = "reset"
    verification = verification_start(
        workspace=workspace, contact=contact, channels=["whatsapp", "sms"], now=at(0)
    )
    drain(0)
    wa = Message.objects.get(kind="whatsapp")
    assert wa.status == "unknown"
    fake.fault = ""
    # when Twilio says, later, that WhatsApp could not deliver it
    body = urllib.parse.urlencode(
        {
            "MessageSid": "SM" + "9" * 32,
            "MessageStatus": "undelivered",
            "ErrorCode": "63016",
            "AccountSid": ACCOUNT_SID,
        }
    )
    signed_post(client, twilio["whatsapp"], "status", body, query=f"ref={wa.reference}")
    dispatch.dispatch_pending(now=timezone.now())
    # then the SMS carries the same real code (the secret was kept while the outcome was unknown)
    sms = fake.messages()[-1]
    assert sms["To"] == contact.phone
    assert verification.code_for_tests in sms["Body"]
