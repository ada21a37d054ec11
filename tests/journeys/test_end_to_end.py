"""Journeys end to end through the sandbox provider, the dispatcher and the inbound pipeline
(the phone simulator's replies are signed sandbox webhooks)."""

import datetime as dt
import re

import pytest

from channels_app.models import Channel, Message, SandboxDelivery
from channels_app.services.dispatch import dispatch_pending
from journeys.models import Enrollment, PromiseToPay, Step
from tests.factories import ContactFactory
from tests.journeys.conftest import graph, node, reply, texts_to

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


def at(seconds=0, **kw):
    return T0 + dt.timedelta(seconds=seconds, **kw)


def tick(engine, when):
    """One moment of the running system: journeys advance, the dispatcher hands over."""
    engine(when)
    dispatch_pending(now=when)


def path(contact):
    e = Enrollment.objects.get(contact=contact)
    return [(s.node, s.exit) for s in Step.objects.filter(enrollment=e)]


def test_otp_onboarding_falls_back_from_sms_to_whatsapp_and_verifies(workspace, publish, fire, engine):
    # the SMS provider accepts but never confirms delivery
    Channel.objects.filter(workspace=workspace, kind="sms").update(settings={"sandbox": {"receipt": "none"}})
    c = ContactFactory(workspace=workspace, first_name="Ola", language="en")
    reply(
        c, "hello", kind="whatsapp", now=at(-60)
    )  # the contact wrote on WhatsApp: its 24-hour window is open
    g = graph(
        trigger=node("trigger.event", {"event": "signup"}, next="otp"),
        otp=node("otp.verify", {"channels": ["sms", "whatsapp", "voice"], "fallback_after_s": 30, "expiry_s": 300},
                 verified="welcome", failed=None, expired=None),
        welcome=node("message.send", {"channel": "preferred", "template": {"en": "Welcome aboard, {{contact.first_name}}!"}},
                     next=None, failed=None),
    )  # fmt: skip
    publish(g)
    fire(c, "signup", now=at())
    tick(engine, at())
    sms = Message.objects.get(contact=c, kind="sms")
    assert sms.status == "sent" and sms.purpose == "otp"
    tick(engine, at(31))  # no receipt within 30 s: the code goes out on WhatsApp
    wa = Message.objects.get(contact=c, kind="whatsapp", direction="out")
    assert wa.status == "sent" and wa.fallback_of_id == sms.pk
    # the stored message holds the code masked; the phone (the sandbox's record) holds it
    assert "******" in wa.text and not re.search(r"\d{6}", wa.text)
    received = SandboxDelivery.objects.get(reference=wa.reference).content
    code = re.search(r"\d{6}", received["text"]).group(0)
    reply(
        c, "1234567"[:6] if code != "123456" else "654321", kind="whatsapp", now=at(40)
    )  # a wrong code first
    tick(engine, at(40))
    assert Enrollment.objects.get(contact=c).status == "waiting"
    reply(c, f"my code is {code}", kind="whatsapp", now=at(45))
    tick(engine, at(45))
    assert path(c) == [("trigger", "next"), ("otp", "verified"), ("welcome", "next")]
    assert texts_to(c)[-1] == "Welcome aboard, Ola!"
    assert Message.objects.filter(contact=c, kind="voice").count() == 0


def test_promise_to_pay_answered_tomorrow_reminds_then_paid(workspace, publish, fire, engine):
    c = ContactFactory(workspace=workspace, first_name="Ben", timezone="Europe/London")
    cfg = {"channel": "sms", "purpose": "collections", "template": {"en": "Hi {{contact.first_name}}, when can you pay?"},
           "options": ["Today", "Tomorrow", "Next week"], "timeout_s": 86400,
           "confirm_template": {"en": "Thanks, noted for {{promise.date}}."},
           "reminder_template": {"en": "Reminder: payment due today."}, "remind_at": "09:00"}  # fmt: skip
    g = graph(
        trigger=node("trigger.event", {"event": "signup"}, next="ptp"),
        ptp=node("payment.promise", cfg, paid="thanks", broken="agent", no_response="agent", failed=None),
        thanks=node("message.send", {"channel": "sms", "template": {"en": "Payment received, thank you."}}, next=None, failed=None),
        agent=node("inbox.handoff", {"queue": "collections"}, next=None),
    )  # fmt: skip
    publish(g)
    fire(c, "signup", now=at())
    tick(engine, at())
    assert "when can you pay?" in texts_to(c)[0]
    reply(c, "tomorrow", now=at(600))
    tick(engine, at(600))
    promise = PromiseToPay.objects.get(contact=c)
    assert (promise.due_date, promise.status) == (dt.date(2026, 3, 3), "promised")
    assert texts_to(c)[-1] == "Thanks, noted for 2026-03-03."
    tick(engine, dt.datetime(2026, 3, 3, 9, 0, 1, tzinfo=dt.UTC))
    assert texts_to(c)[-1] == "Reminder: payment due today."
    fire(c, "payment_completed", now=dt.datetime(2026, 3, 3, 12, 0, tzinfo=dt.UTC), amount=120)
    tick(engine, dt.datetime(2026, 3, 3, 12, 0, tzinfo=dt.UTC))
    promise.refresh_from_db()
    assert promise.status == "paid"
    assert path(c)[-2:] == [("ptp", "paid"), ("thanks", "next")]


def test_broken_promise_escalates_to_an_agent(workspace, publish, fire, engine):
    from contacts.models import Event

    c = ContactFactory(workspace=workspace)
    cfg = {"channel": "sms", "template": {"en": "When?"}, "timeout_s": 3600}
    g = graph(trigger=node("trigger.event", {"event": "signup"}, next="ptp"),
              ptp=node("payment.promise", cfg, paid=None, broken="agent", no_response="agent", failed=None),
              agent=node("inbox.handoff", {"queue": "collections", "priority": "high"}, next=None))  # fmt: skip
    publish(g)
    fire(c, "signup", now=at())
    tick(engine, at())
    reply(c, "today", now=at(60))
    tick(engine, at(60))
    tick(engine, at(days=2))
    assert PromiseToPay.objects.get(contact=c).status == "broken"
    assert path(c)[-2:] == [("ptp", "broken"), ("agent", "next")]
    assert Event.objects.filter(contact=c, name="inbox.handoff_requested").exists()


ABANDONED = graph(
    trigger=node("trigger.event", {"event": "cart_abandoned"}, next="wait"),
    wait=node("wait.event", {"event": "purchase", "match": {"cart_id": "{{event.cart_id}}"}, "timeout_s": 3600},
              event="bought", timeout="nudge"),
    nudge=node("message.send", {"channel": "sms", "purpose": "marketing",
                                "template": {"en": "Your cart {{event.cart_id}} misses you: 10% off with CART10"}},
               next=None, failed=None),
    bought=node("exit", {}),
)  # fmt: skip


def test_abandoned_cart_without_purchase_gets_the_discount(workspace, publish, fire, engine):
    from consent.services import consent_change
    from cpaas.tenancy import Actor

    c = ContactFactory(workspace=workspace)
    consent_change(contact=c, channel_kind="sms", purpose="marketing", status="opted_in", method="web_form",
                   reason="signed up on the web", actor=Actor.system("test"), at=at(-60),
                   evidence={"notice_text": "Offers by SMS"})  # fmt: skip
    publish(ABANDONED)
    fire(c, "cart_abandoned", now=at(), cart_id="C-1")
    tick(engine, at())
    tick(engine, at(3601))
    assert texts_to(c) == ["Your cart C-1 misses you: 10% off with CART10"]
    assert Message.objects.get(contact=c).status == "sent"


def test_abandoned_cart_with_purchase_sends_nothing(workspace, publish, fire, engine):
    c = ContactFactory(workspace=workspace)
    publish(ABANDONED)
    fire(c, "cart_abandoned", now=at(), cart_id="C-2")
    tick(engine, at())
    fire(c, "purchase", now=at(120), cart_id="C-2")
    tick(engine, at(120))
    tick(engine, at(3601))
    assert texts_to(c) == []
    assert path(c)[-2:] == [("wait", "event"), ("bought", "")]
