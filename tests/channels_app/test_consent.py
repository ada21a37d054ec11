"""Every send asks the consent registry first: blocked messages keep the reason, deferred ones
go at the allowed time, and a fallback chain moves past a channel consent refuses."""

import datetime as dt

import pytest

from channels_app.models import Message, SandboxDelivery
from channels_app.services.dispatch import dispatch_pending
from channels_app.services.messages import message_send

pytestmark = pytest.mark.django_db
S = Message.Status
UTC = dt.UTC


def test_marketing_without_opt_in_is_stored_blocked_with_the_reason(workspace, contact):
    now = dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    message = message_send(
        workspace=workspace,
        contact=contact,
        channel="sms",
        content={"text": "20% off"},
        purpose="marketing",
        now=now,
    )
    assert message.status == S.BLOCKED
    assert message.consent_outcome == "deny" and message.consent_rule == "consent.missing"
    assert "needs explicit consent" in message.consent_reason
    dispatch_pending(now=now)
    assert not SandboxDelivery.objects.exists()
    assert message.status_events.filter(status=S.BLOCKED, source="consent").exists()


def test_collections_in_quiet_hours_is_deferred_and_goes_at_eight(workspace, contact):
    # given 22:00 in London (the contact's zone), inside collections' quiet hours (21:00-08:00)
    contact.timezone = "Europe/London"
    contact.save()
    late = dt.datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
    message = message_send(
        workspace=workspace,
        contact=contact,
        channel="sms",
        content={"text": "Balance due"},
        purpose="collections",
        now=late,
    )
    eight = dt.datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    assert (message.status, message.due_at, message.consent_rule) == (S.DEFERRED, eight, "quiet_hours")
    # when the dispatcher runs just before eight, nothing goes
    dispatch_pending(now=eight - dt.timedelta(seconds=1))
    assert Message.objects.get(pk=message.pk).status == S.DEFERRED
    # and at eight consent is asked again and the message is sent
    dispatch_pending(now=eight)
    message.refresh_from_db()
    assert message.status == S.SENT and message.sent_at == eight
    assert message.status_events.filter(detail__startswith="released").exists()


def test_free_form_whatsapp_outside_the_window_falls_back_to_sms(workspace, contact):
    now = dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    wa = message_send(
        workspace=workspace,
        contact=contact,
        channel="whatsapp",
        content={"text": "Hello"},
        fallback=["sms"],
        now=now,
    )
    assert wa.status == S.BLOCKED and wa.consent_rule == "whatsapp.window"
    sms = Message.objects.get(fallback_of=wa)
    assert sms.kind == "sms" and sms.status == S.QUEUED and sms.text == "Hello"
