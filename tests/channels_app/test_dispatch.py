"""The dispatcher in-process, with the clock in the test's hands: retries and backoff, permanent
failures, fallback chains, deferred sends, throttling, and recovery of a dead worker's claims."""

import datetime as dt

import pytest
from django.test import override_settings

from channels_app.models import Channel, Message, SandboxDelivery
from channels_app.providers import get_provider
from channels_app.providers.base import StatusUpdate
from channels_app.services import dispatch
from channels_app.services.messages import message_send
from channels_app.services.status import statuses_apply
from tests.factories import ContactFactory

from .conftest import at, drain

pytestmark = pytest.mark.django_db
S = Message.Status
# WhatsApp outside the 24-hour window takes approved templates only (the consent registry says)
HELLO_TEMPLATE = {"text": "Hi", "template": {"name": "hello"}}


def send(workspace, contact, **kw):
    kw.setdefault("channel", "sms")
    kw.setdefault("content", {"text": "Your code is ready."})
    return message_send(workspace=workspace, contact=contact, now=kw.pop("now", at(0)), **kw)


def fresh(message):
    return Message.objects.get(pk=message.pk)


@pytest.fixture
def no_jitter(monkeypatch):
    monkeypatch.setattr(dispatch.random, "random", lambda: 1.0)  # delay = the full exponential step


@override_settings(CHANNELS_RETRY_BASE_S=2.0)
def test_429_and_503_are_retried_with_exponential_backoff_then_succeed(workspace, contact, no_jitter):
    # given a provider that answers 429 (Retry-After: 1) then 503 twice, then accepts
    message = send(workspace, contact, options={"sandbox": {"rate_limit_times": 1, "fail_times": 3}})

    drain(0)
    m = fresh(message)
    assert (m.status, m.error_code, m.attempts) == (S.QUEUED, "429", 1)
    assert m.due_at == at(2)  # max(backoff 2 s, Retry-After 1 s)

    drain(1.9)  # not due yet: nothing happens
    assert fresh(message).attempts == 1

    drain(2)
    m = fresh(message)
    assert (m.status, m.error_code, m.attempts, m.due_at) == (S.QUEUED, "503", 2, at(2 + 4))

    drain(6)
    m = fresh(message)
    assert (m.status, m.error_code, m.attempts, m.due_at) == (S.QUEUED, "503", 3, at(6 + 8))

    drain(14)
    m = fresh(message)
    assert (m.status, m.attempts, m.error_code) == (S.SENT, 4, "")
    assert SandboxDelivery.objects.filter(reference=m.reference).count() == 1
    retries = m.status_events.filter(status=S.QUEUED, source="dispatcher")
    assert [e.error_code for e in retries] == ["429", "503", "503"]
    assert "retry in 2.0s" in retries[0].detail


def test_jitter_keeps_the_delay_between_half_and_all_of_the_step(monkeypatch):
    for r in (0.0, 0.5, 0.999):
        monkeypatch.setattr(dispatch.random, "random", lambda r=r: r)
        delay = dispatch.backoff_s(3)  # step 2 * 2^2 = 8
        assert 4.0 <= delay <= 8.0


@override_settings(CHANNELS_MAX_ATTEMPTS=3, CHANNELS_RETRY_BASE_S=1.0)
def test_transient_errors_give_up_after_the_attempt_limit(workspace, contact, no_jitter):
    message = send(workspace, contact, options={"sandbox": {"timeout": True}})
    for second in (0, 1, 3, 7, 15):
        drain(second)
    m = fresh(message)
    assert (m.status, m.attempts, m.error_code) == (S.FAILED, 3, "timeout")
    assert m.error_reason.startswith("gave up after 3 attempts")
    assert not SandboxDelivery.objects.exists()


def test_a_permanent_error_fails_at_once_with_the_providers_code(workspace, contact):
    message = send(workspace, contact, options={"sandbox": {"fail": "21211"}})
    drain(0)
    m = fresh(message)
    assert (m.status, m.attempts, m.error_code, m.failed_at) == (S.FAILED, 1, "21211", at(0))


def test_fallback_whatsapp_to_sms_when_whatsapp_fails(workspace, contact, channels):
    # given WhatsApp refuses everything
    Channel.objects.filter(pk=channels["whatsapp"].pk).update(settings={"sandbox": {"fail": "63016"}})
    wa = send(
        workspace,
        contact,
        channel="whatsapp",
        content={
            "text": "Your delivery slot?",
            "buttons": ["Morning", "Afternoon"],
            "template": {"name": "slot"},
        },
        fallback=["sms", "voice"],
        idempotency_key="slot-1",
    )
    # when the dispatcher runs
    drain(0)
    wa = fresh(wa)
    assert (wa.status, wa.error_code) == (S.FAILED, "63016")
    # then the same content goes out by SMS, linked to the first attempt, buttons as text
    sms = wa.fallback
    assert sms.kind == "sms" and sms.first_attempt_id == wa.pk
    assert sms.text == "Your delivery slot?\n\n1. Morning\n2. Afternoon\nReply with the number."
    assert sms.fallback_chain == ["voice"]
    assert sms.idempotency_key == "slot-1~sms"
    assert "fallback after whatsapp failed (63016)" in sms.content_notes
    assert "template 'slot' sent as its text on sms" in sms.content_notes
    assert sms.status == S.SENT
    drain(1)
    assert fresh(sms).status == S.DELIVERED
    assert not Message.objects.filter(kind="voice").exists()


def test_fallback_when_no_delivery_receipt_arrives_in_time(workspace, contact):
    wa = send(
        workspace,
        contact,
        channel="whatsapp",
        content={"text": "Did you get this?", "template": {"name": "check_in"}},
        fallback=["sms"],
        fallback_after_s=30,
        options={"sandbox": {"receipt": "none"}},
    )
    drain(0)
    assert fresh(wa).status == S.SENT and fresh(wa).fallback_deadline == at(30)
    drain(29)
    assert not Message.objects.filter(kind="sms").exists()
    drain(30)
    sms = Message.objects.get(kind="sms")
    assert sms.fallback_of_id == wa.pk and sms.text == "Did you get this?"
    assert sms.status == S.SENT
    assert fresh(wa).fallback_deadline is None
    # the fallback happens once, whatever runs again
    drain(60)
    drain(120)
    assert Message.objects.filter(kind="sms").count() == 1
    event = fresh(wa).status_events.get(source="fallback")
    assert "no delivery receipt within 30s" in event.detail


def test_a_delivery_receipt_in_time_cancels_the_fallback(workspace, contact):
    wa = send(
        workspace, contact, channel="whatsapp", content=HELLO_TEMPLATE, fallback=["sms"], fallback_after_s=30
    )
    drain(0)
    drain(1)  # the sandbox's receipt
    assert fresh(wa).status == S.DELIVERED and fresh(wa).fallback_deadline is None
    drain(31)
    assert not Message.objects.filter(kind="sms").exists()


def test_a_failed_receipt_after_sending_starts_the_fallback(workspace, contact, channels):
    wa = send(
        workspace,
        contact,
        channel="whatsapp",
        content=HELLO_TEMPLATE,
        fallback=["sms"],
        options={"sandbox": {"receipt": "failed", "receipt_error": "63024"}},
    )
    drain(0)
    drain(1)
    wa = fresh(wa)
    assert (wa.status, wa.error_code) == (S.FAILED, "63024")
    assert wa.fallback.kind == "sms"


def test_kinds_without_a_channel_or_address_are_skipped_in_the_chain(workspace, channels):
    Channel.objects.filter(pk=channels["sms"].pk).update(status="disabled")
    contact = ContactFactory(workspace=workspace, email="e@example.com")
    first = send(
        workspace,
        contact,
        channel="voice",
        fallback=["sms", "push", "email"],
        options={"sandbox": {"fail": "x"}},
    )
    drain(0)
    nxt = fresh(first).fallback
    assert nxt.kind == "email"
    note = fresh(first).status_events.get(source="fallback").detail
    assert "no active sms channel" in note and "no push address" in note


def test_rate_limit_holds_with_the_shared_bucket(workspace, contact, channels):
    Channel.objects.filter(pk=channels["sms"].pk).update(rate_limit_per_second=5)
    for i in range(12):
        send(workspace, contact, idempotency_key=f"r{i}", content={"text": f"n{i}"})
    drain(0)
    assert SandboxDelivery.objects.count() == 5
    drain(0.1)
    assert SandboxDelivery.objects.count() == 5  # the bucket refills at 5/s
    drain(1)
    assert SandboxDelivery.objects.count() == 10
    drain(2)
    assert SandboxDelivery.objects.count() == 12


def test_a_throttled_channel_does_not_hold_up_another(workspace, contact, channels):
    Channel.objects.filter(pk=channels["sms"].pk).update(rate_limit_per_second=1)
    for i in range(5):
        send(workspace, contact, idempotency_key=f"s{i}")
    email = send(workspace, contact, channel="email", now=at(0.5))
    drain(0.5)
    assert fresh(email).status == S.SENT
    assert Message.objects.filter(kind="sms", status=S.SENT).count() == 1


@override_settings(CHANNELS_LEASE_S=30)
def test_a_dead_workers_claims_are_sent_again_once_by_an_idempotent_provider(workspace, contact, channels):
    # (no receipts: a receipt would settle what was handed over before any recovery)
    Channel.objects.filter(pk=channels["sms"].pk).update(settings={"sandbox": {"receipt": "none"}})
    channels["sms"].refresh_from_db()
    messages = [send(workspace, contact, idempotency_key=f"d{i}") for i in range(3)]
    # given a worker that claimed the batch, handed it to the sandbox, and died before recording
    claim = dispatch.claim(now=at(0), limit=10)
    claimed = list(Message.objects.filter(claim_token=claim.token))
    outs = [dispatch._outbound(m, channels["sms"]) for m in claimed]
    get_provider("sandbox").send_batch(channels["sms"], outs[:2], at(0))
    assert all(fresh(m).status == S.SENDING for m in messages)
    # when another worker runs before the lease ends, nothing happens
    drain(29)
    assert all(fresh(m).status == S.SENDING for m in messages)
    # and after it, the claims are recovered and sent again with the same reference
    drain(31)
    assert all(fresh(m).status == S.SENT for m in messages)
    assert SandboxDelivery.objects.count() == 3  # the two received before are not received twice
    assert fresh(messages[0]).status_events.filter(source="recovery").exists()


def test_a_disabled_channel_fails_what_was_claimed_for_it(workspace, contact, channels):
    message = send(workspace, contact)
    Channel.objects.filter(pk=channels["sms"].pk).update(status="disabled")
    drain(0)
    assert fresh(message).error_code == "channel_disabled"


def test_inline_dispatch_runs_only_after_commit(workspace, contact, django_capture_on_commit_callbacks):
    with override_settings(CHANNELS_DISPATCH_INLINE=True):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            message = send(workspace, contact, now=dt.datetime.now(dt.UTC))
        assert fresh(message).status == S.QUEUED  # not before the commit
        for callback in callbacks:
            callback()
    assert fresh(message).status == S.SENT


def test_receipts_for_messages_not_found_yet_are_kept_not_dropped(workspace, channels):
    from channels_app.models import PendingReceipt

    counts = statuses_apply(
        channel=channels["sms"],
        updates=[StatusUpdate(status="delivered", provider_message_id="nope")],
        now=at(0),
    )
    assert counts == {"applied": 0, "ignored": 0, "pending": 1}
    assert PendingReceipt.objects.get().provider_message_id == "nope"
