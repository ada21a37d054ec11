"""Consent is decided again when the dispatcher hands a message over, not only when it is queued:
what leaves is what is allowed at that moment. Frequency caps count the places an allowing
decision reserved, so a burst cannot pass a cap together. A person's reply is its own kind of
decision. And nothing fails open when the registry cannot decide."""

import datetime as dt
import os
import subprocess
import sys

import pytest
from django.test import override_settings
from django.utils import timezone

from channels_app.models import Channel, Message, SandboxDelivery
from channels_app.services.dispatch import dispatch_batch, dispatch_pending
from channels_app.services.messages import message_send
from consent.models import SendRecord
from consent.services import inbound_keyword, inbound_recorded
from tests.factories import ContactFactory

from .conftest import start_dispatcher

pytestmark = pytest.mark.django_db
S = Message.Status
UTC = dt.UTC
NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # London is on GMT in March before the 29th


def send(workspace, contact, now, **kw):
    kw.setdefault("channel", "sms")
    kw.setdefault("content", {"text": "Please call us about your balance."})
    return message_send(workspace=workspace, contact=contact, now=now, **kw)


def fresh(message):
    return Message.objects.get(pk=message.pk)


@pytest.fixture
def london(contact):
    contact.timezone = "Europe/London"
    contact.save()
    return contact


# --- decided again at hand-over --------------------------------------------------------------


def test_ten_collections_calls_queued_together_pass_a_seven_in_seven_days_cap_only_seven_times(
    workspace, london
):
    # given ten collections calls queued within seconds (each allowed when queued: no call yet)
    calls = [
        send(workspace, london, NOON + dt.timedelta(seconds=i), channel="voice", purpose="collections")
        for i in range(10)
    ]
    assert {m.status for m in calls} == {S.QUEUED}
    # when the dispatcher hands them over
    dispatch_pending(now=NOON + dt.timedelta(seconds=30))
    # then the Regulation F cap (7 calls in 7 days) holds: 7 placed, 3 deferred with the rule
    calls = [fresh(m) for m in calls]
    assert SandboxDelivery.objects.filter(channel__kind="voice").count() == 7
    assert [m.status for m in calls].count(S.SENT) == 7
    deferred = [m for m in calls if m.status == S.DEFERRED]
    assert len(deferred) == 3
    first_call = min(m.sent_at for m in calls if m.status == S.SENT)
    for m in deferred:
        assert m.consent_rule == "frequency_cap" and "the cap is 7" in m.consent_reason
        assert m.due_at == first_call + dt.timedelta(days=7)
        assert m.status_events.filter(status=S.DEFERRED, detail__startswith="at hand-over").exists()
    assert SendRecord.objects.filter(contact=london, purpose="collections").count() == 7


def test_a_failed_send_gives_its_cap_place_back(workspace, london):
    # given six calls placed and a seventh the provider refuses for good
    for _ in range(6):
        send(workspace, london, NOON, channel="voice", purpose="collections")
    refused = send(
        workspace,
        london,
        NOON,
        channel="voice",
        purpose="collections",
        options={"sandbox": {"fail": "21211"}},
    )
    dispatch_pending(now=NOON)
    assert fresh(refused).status == S.FAILED
    # when another call is queued
    later = send(workspace, london, NOON + dt.timedelta(minutes=5), channel="voice", purpose="collections")
    dispatch_pending(now=NOON + dt.timedelta(minutes=5))
    # then it goes: the failed call never reached the person and does not count
    assert fresh(later).status == S.SENT
    assert SendRecord.objects.filter(contact=london, purpose="collections").count() == 7


def test_a_retried_send_does_not_count_against_itself(workspace, london):
    # given six calls placed and a seventh that meets a transient error first
    for _ in range(6):
        send(workspace, london, NOON, channel="voice", purpose="collections")
    flaky = send(
        workspace,
        london,
        NOON,
        channel="voice",
        purpose="collections",
        options={"sandbox": {"fail_times": 1}},
    )
    dispatch_pending(now=NOON)
    assert fresh(flaky).status == S.QUEUED
    # when its retry is due
    dispatch_pending(now=NOON + dt.timedelta(minutes=10))
    # then it goes (its own earlier reservation is not a seventh call)
    assert fresh(flaky).status == S.SENT
    assert SendRecord.objects.filter(contact=london, purpose="collections").count() == 7


def test_a_call_queued_just_before_quiet_hours_is_deferred_at_hand_over(workspace, london):
    # given a collections SMS queued at 20:59:30 London time (allowed then)
    message = send(workspace, london, dt.datetime(2026, 3, 2, 20, 59, 30, tzinfo=UTC), purpose="collections")
    assert message.status == S.QUEUED
    # when the dispatcher only gets to it after 21:00
    dispatch_pending(now=dt.datetime(2026, 3, 2, 21, 0, 5, tzinfo=UTC))
    # then it is deferred to 08:00 with the quiet-hours rule, and nothing reached the contact
    m = fresh(message)
    assert (m.status, m.consent_rule, m.due_at) == (
        S.DEFERRED,
        "quiet_hours",
        dt.datetime(2026, 3, 3, 8, 0, tzinfo=UTC),
    )
    assert "Quiet hours for collections" in m.consent_reason
    assert not SandboxDelivery.objects.exists()
    # and at 08:00 it goes
    dispatch_pending(now=dt.datetime(2026, 3, 3, 8, 0, tzinfo=UTC))
    assert fresh(message).status == S.SENT


def test_free_text_whatsapp_queued_inside_the_window_is_blocked_once_it_closes(workspace, contact):
    # given the contact wrote on WhatsApp 23h59m before the message was queued
    wrote = NOON - dt.timedelta(hours=23, minutes=59)
    inbound_recorded(contact=contact, channel_kind="whatsapp", at=wrote)
    message = send(
        workspace, contact, NOON, channel="whatsapp", content={"text": "Thanks!"}, fallback=["sms"]
    )
    assert message.status == S.QUEUED
    # when the dispatcher hands it over after the 24-hour window closed
    dispatch_pending(now=NOON + dt.timedelta(minutes=2))
    # then the free text is not sent on WhatsApp; the fallback chain moves on to SMS
    m = fresh(message)
    assert (m.status, m.consent_rule) == (S.BLOCKED, "whatsapp.window")
    assert not SandboxDelivery.objects.filter(channel__kind="whatsapp").exists()
    assert m.fallback.kind == "sms" and fresh(m.fallback).status == S.SENT


def test_an_opt_out_between_queueing_and_hand_over_stops_the_message(workspace, contact):
    message = send(workspace, contact, NOON)
    inbound_keyword(contact=contact, channel_kind="sms", text="STOP", at=NOON + dt.timedelta(seconds=1))
    dispatch_pending(now=NOON + dt.timedelta(seconds=2))
    m = fresh(message)
    assert (m.status, m.consent_rule) == (S.BLOCKED, "suppression")
    assert not SandboxDelivery.objects.exists()


def test_two_dispatcher_processes_together_do_not_pass_a_cap(workspace, tmp_path, transactional_db):
    # given a contact whose local time is midday (collections may call) and ten calls queued
    now = timezone.now()
    offset = (12 - now.hour + 12) % 24 - 12  # hours from UTC to a zone where it is about noon
    zone = "Etc/GMT" + ("" if offset == 0 else f"{-offset:+d}")  # Etc/GMT-3 is UTC+3
    contact = ContactFactory(workspace=workspace, phone="+447911654321", timezone=zone)
    Channel.objects.filter(workspace=workspace, kind="voice").update(
        settings={"sandbox": {"receipt": "none"}}
    )
    calls = [send(workspace, contact, now, channel="voice", purpose="collections") for _ in range(10)]
    # when two dispatchers claim one message at a time, in parallel
    workers = [
        start_dispatcher(tmp_path / f"d{i}.log", "--batch", "1", "--exit-when-idle", "2") for i in range(2)
    ]
    try:
        for worker in workers:
            worker.wait(timeout=120)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    # then seven calls went, three wait for the cap
    statuses = [fresh(m).status for m in calls]
    assert statuses.count(S.SENT) == 7 and statuses.count(S.DEFERRED) == 3
    assert SandboxDelivery.objects.filter(channel__kind="voice").count() == 7


# --- a person's reply ---------------------------------------------------------------------------


@pytest.fixture
def vulnerable(london):
    london.is_vulnerable = True
    london.save()
    return london


def test_a_person_may_reach_a_vulnerable_customer_automation_may_not(workspace, vulnerable):
    journey = send(workspace, vulnerable, NOON, purpose="collections")
    agent = send(workspace, vulnerable, NOON, purpose="collections", sent_by="person")
    assert (journey.status, journey.consent_rule) == (S.BLOCKED, "vulnerability")
    assert agent.status == S.QUEUED and agent.sent_by == "person"
    dispatch_pending(now=NOON)
    assert fresh(agent).status == S.SENT


def test_an_opt_out_binds_a_persons_reply_too(workspace, contact):
    inbound_keyword(contact=contact, channel_kind="sms", text="STOP", at=NOON)
    agent = send(workspace, contact, NOON + dt.timedelta(minutes=1), sent_by="person")
    assert (agent.status, agent.consent_rule) == (S.BLOCKED, "suppression")


def test_quiet_hours_yield_only_to_a_conversation_the_customer_started_moments_ago(workspace, london):
    late = dt.datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
    # the customer wrote 5 minutes ago: an agent may answer now, a journey may not
    inbound_recorded(contact=london, channel_kind="sms", at=late - dt.timedelta(minutes=5))
    agent = send(workspace, london, late, purpose="collections", sent_by="person")
    journey = send(workspace, london, late, purpose="collections")
    assert agent.status == S.QUEUED
    assert (journey.status, journey.consent_rule) == (S.DEFERRED, "quiet_hours")
    dispatch_pending(now=late + dt.timedelta(seconds=5))
    assert fresh(agent).status == S.SENT
    # an hour after the customer's last message, the agent waits for 08:00 too
    later = late + dt.timedelta(hours=1)
    agent2 = send(workspace, london, later, purpose="collections", sent_by="person")
    assert (agent2.status, agent2.consent_rule) == (S.DEFERRED, "quiet_hours")


def test_a_persons_reply_queued_in_the_conversation_window_waits_if_handed_over_after_it(workspace, london):
    late = dt.datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
    inbound_recorded(contact=london, channel_kind="sms", at=late - dt.timedelta(minutes=14))
    agent = send(workspace, london, late, purpose="collections", sent_by="person")
    assert agent.status == S.QUEUED
    dispatch_pending(now=late + dt.timedelta(minutes=2))  # 16 minutes after the customer wrote
    assert (fresh(agent).status, fresh(agent).consent_rule) == (S.DEFERRED, "quiet_hours")


@override_settings(CONSENT_CONVERSATION_WINDOW_S=3600)
def test_the_conversation_window_is_a_setting(workspace, london):
    late = dt.datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
    inbound_recorded(contact=london, channel_kind="sms", at=late - dt.timedelta(minutes=45))
    agent = send(workspace, london, late, purpose="collections", sent_by="person")
    assert agent.status == S.QUEUED


def test_an_unknown_sender_kind_is_refused(workspace, contact):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as err:
        send(workspace, contact, NOON, sent_by="robot")
    assert "sent_by" in err.value.message_dict
    assert not Message.objects.exists()


# --- nothing fails open ---------------------------------------------------------------------------


def test_when_consent_cannot_decide_at_hand_over_nothing_is_sent(workspace, contact, monkeypatch):
    from consent import services

    message = send(workspace, contact, NOON)

    def broken(*args, **kwargs):
        raise RuntimeError("registry unavailable")

    monkeypatch.setattr(services, "decide_sends", broken)
    with pytest.raises(RuntimeError):
        dispatch_batch(now=NOON)
    assert not SandboxDelivery.objects.exists()
    assert fresh(message).status in (S.QUEUED, S.SENDING)  # a later round decides again


def test_the_send_path_does_not_start_when_the_consent_services_fail_to_import():
    script = (
        "import sys, django\n"
        "sys.modules['consent.services'] = None  # importing it now raises ImportError\n"
        "django.setup()\n"
        "from channels_app.services.messages import message_send\n"
        "print('SEND PATH IMPORTED')\n"
    )
    from tests.conftest import ROOT

    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "cpaas.settings.test"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "SEND PATH IMPORTED" not in done.stdout
    assert "consent.services" in done.stderr and "ModuleNotFoundError" in done.stderr


def test_the_decision_at_hand_over_costs_the_same_queries_for_3_or_60_messages(workspace):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_to_dispatch(n: int, at: dt.datetime) -> int:
        people = [
            ContactFactory(workspace=workspace, phone=f"+4479111{at.minute:02d}{i:03d}") for i in range(n)
        ]
        for person in people:
            send(workspace, person, at)
        with CaptureQueriesContext(connection) as ctx:
            dispatch_batch(now=at)
        assert Message.objects.filter(status=S.SENT).count() == Message.objects.count()
        tables = ("consent_", "contacts_contact", "cpaas_workspace")  # what deciding reads
        return len([q for q in ctx.captured_queries if any(t in q["sql"] for t in tables)])

    queries_to_dispatch(1, NOON)  # the channel's token bucket is created on the first round
    few = queries_to_dispatch(3, NOON + dt.timedelta(minutes=1))
    assert queries_to_dispatch(60, NOON + dt.timedelta(minutes=2)) == few
