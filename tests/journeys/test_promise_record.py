"""A promise to pay told to a person (issue 13 item 8) is the journey's promise: the contact
waiting at payment.promise takes it as its answer, reminders go on the chosen channel and day,
the payment settles it; a later payment.promise node adopts it instead of asking."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from channels_app.models import Message
from channels_app.services.dispatch import dispatch_pending
from cpaas.models import AuditEntry
from cpaas.tenancy import Actor
from journeys.models import Enrollment, PromiseToPay, Step
from journeys.services import promise_record
from tests.factories import ContactFactory
from tests.journeys.conftest import graph, node, reply, texts_to

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday

CFG = {"channel": "sms", "template": {"en": "When can you pay?"}, "timeout_s": 86400,
       "confirm_template": {"en": "Thanks, noted for {{promise.date}}."},
       "reminder_template": {"en": "Reminder: {{promise.amount}} due today."}, "remind_at": "09:00"}  # fmt: skip


def at(seconds=0, **kw):
    return T0 + dt.timedelta(seconds=seconds, **kw)


def tick(engine, when):
    engine(when)
    dispatch_pending(now=when)


def path(contact):
    e = Enrollment.objects.get(contact=contact)
    return [(s.node, s.exit) for s in Step.objects.filter(enrollment=e)]


@pytest.fixture
def agent_actor(agent):
    return Actor.for_user(agent)


def ptp_graph(cfg=CFG):
    return graph(
        trigger=node("trigger.event", {"event": "signup"}, next="ptp"),
        ptp=node("payment.promise", cfg, paid="thanks", broken=None, no_response=None, failed=None),
        thanks=node("message.send", {"channel": "sms", "template": {"en": "Payment received."}}, next=None, failed=None),
    )  # fmt: skip


def test_a_promise_told_to_an_agent_answers_the_journey_waiting_for_one(
    workspace, publish, fire, engine, agent, agent_actor
):
    c = ContactFactory(workspace=workspace, phone="+447911123456", timezone="Europe/London", language="en")
    publish(ptp_graph())
    fire(c, "signup", now=at())
    tick(engine, at())
    assert texts_to(c) == ["When can you pay?"]
    # when: the customer calls and promises 120.50 GBP on Thursday, reminded by SMS
    promise = promise_record(
        contact=c, actor=agent_actor, now=at(600),
        data={"amount": "120.50", "currency": "gbp", "due_date": "2026-03-05", "reminder_channel": "sms"},
    )  # fmt: skip
    tick(engine, at(600))
    # then: the journey holds it, asks nothing more, reminds on the day and is paid
    assert promise.enrollment == Enrollment.objects.get(contact=c)
    assert (promise.amount, promise.currency, promise.recorded_by) == (Decimal("120.50"), "GBP", agent)
    assert texts_to(c) == ["When can you pay?"]  # no confirmation: the agent gave it
    tick(engine, dt.datetime(2026, 3, 4, 9, 0, 1, tzinfo=dt.UTC))
    assert len(texts_to(c)) == 1  # not the day yet
    tick(engine, dt.datetime(2026, 3, 5, 9, 0, 1, tzinfo=dt.UTC))
    assert texts_to(c)[-1] == "Reminder: 120.50 due today."
    fire(c, "payment_completed", now=dt.datetime(2026, 3, 5, 12, 0, tzinfo=dt.UTC))
    tick(engine, dt.datetime(2026, 3, 5, 12, 0, tzinfo=dt.UTC))
    promise.refresh_from_db()
    assert promise.status == "paid"
    assert path(c)[-2:] == [("ptp", "paid"), ("thanks", "next")]
    entry = AuditEntry.objects.get(action="journeys.promise.recorded")
    assert entry.data["due_date"] == "2026-03-05" and entry.data["enrollment"] == promise.enrollment_id


def test_the_reminder_goes_on_the_channel_chosen_with_the_agent(
    workspace, publish, fire, engine, agent_actor
):
    c = ContactFactory(workspace=workspace, phone="+447911123456", timezone="Europe/London", language="en")
    reply(c, "hi", kind="whatsapp", now=dt.datetime(2026, 3, 5, 8, 0, tzinfo=dt.UTC))  # window open that day
    cfg = {k: v for k, v in CFG.items() if k != "reminder_template"}  # the node itself has no reminder
    publish(ptp_graph(cfg))
    fire(c, "signup", now=at())
    tick(engine, at())
    promise_record(contact=c, actor=agent_actor, now=at(60),
                   data={"due_date": "2026-03-05", "reminder_channel": "whatsapp"})  # fmt: skip
    tick(engine, at(60))
    tick(engine, dt.datetime(2026, 3, 5, 9, 0, 1, tzinfo=dt.UTC))
    last = Message.objects.filter(contact=c, direction="out").order_by("-id").first()
    assert (last.kind, last.text) == (
        "whatsapp",
        "Reminder: the payment you promised is due today (2026-03-05).",
    )


def test_a_new_promise_replaces_the_one_the_journey_was_waiting_on(
    workspace, publish, fire, engine, agent_actor
):
    c = ContactFactory(workspace=workspace, phone="+447911123456", timezone="Europe/London", language="en")
    publish(ptp_graph())
    fire(c, "signup", now=at())
    tick(engine, at())
    reply(c, "tomorrow", now=at(60))
    tick(engine, at(60))
    first = PromiseToPay.objects.get(contact=c)
    assert first.due_date == dt.date(2026, 3, 3)
    # the customer cannot pay tomorrow after all and agrees a later date with an agent
    second = promise_record(contact=c, actor=agent_actor, now=at(120),
                            data={"due_date": "2026-03-10", "amount": "50", "currency": "GBP"})  # fmt: skip
    tick(engine, at(120))
    first.refresh_from_db()
    assert first.status == "cancelled"
    tick(engine, dt.datetime(2026, 3, 4, 0, 30, tzinfo=dt.UTC))  # the first promise's deadline: not broken
    assert Enrollment.objects.get(contact=c).status == "waiting"
    second.refresh_from_db()
    assert second.status == "promised"
    tick(engine, dt.datetime(2026, 3, 11, 0, 30, tzinfo=dt.UTC))
    second.refresh_from_db()
    assert second.status == "broken"
    assert path(c)[-1] == ("ptp", "broken")


def test_a_promise_recorded_first_is_adopted_by_the_next_payment_node(
    workspace, publish, fire, engine, agent_actor
):
    c = ContactFactory(workspace=workspace, phone="+447911123456", timezone="Europe/London", language="en")
    promise = promise_record(contact=c, actor=agent_actor, now=at(), data={"due_date": "2026-03-04"})
    assert promise.enrollment is None
    publish(ptp_graph())
    fire(c, "signup", now=at(60))
    tick(engine, at(60))
    promise.refresh_from_db()
    assert promise.enrollment == Enrollment.objects.get(contact=c)
    assert texts_to(c) == []  # not asked again
    tick(engine, dt.datetime(2026, 3, 4, 9, 0, 1, tzinfo=dt.UTC))
    assert texts_to(c) == ["Reminder:  due today."]  # no amount was promised


@pytest.mark.parametrize(
    "data, field",
    [
        ({"due_date": ""}, "due_date"),
        ({"due_date": "2026-03-01"}, "due_date"),  # yesterday
        ({"due_date": "2027-06-01"}, "due_date"),
        ({"due_date": "5 March"}, "due_date"),
        ({"due_date": "2026-03-05", "amount": "-3", "currency": "GBP"}, "amount"),
        ({"due_date": "2026-03-05", "amount": "1.234", "currency": "GBP"}, "amount"),
        ({"due_date": "2026-03-05", "amount": "NaN", "currency": "GBP"}, "amount"),
        ({"due_date": "2026-03-05", "amount": "12"}, "currency"),
        ({"due_date": "2026-03-05", "amount": "12", "currency": "pounds"}, "currency"),
        ({"due_date": "2026-03-05", "reminder_channel": "pigeon"}, "reminder_channel"),
    ],
)
def test_a_bad_promise_is_refused_with_its_field_and_writes_nothing(workspace, agent_actor, data, field):
    c = ContactFactory(workspace=workspace, timezone="Europe/London")
    with pytest.raises(ValidationError) as caught:
        promise_record(contact=c, actor=agent_actor, data=data, now=at())
    assert field in caught.value.message_dict
    assert not PromiseToPay.objects.exists()
    assert not AuditEntry.objects.filter(action="journeys.promise.recorded").exists()


def test_today_is_the_customers_day(workspace, agent_actor):
    # 02:00 UTC on 3 March is still 2 March in New York: a promise for the 2nd is for today
    c = ContactFactory(workspace=workspace, timezone="America/New_York")
    p = promise_record(contact=c, actor=agent_actor, data={"due_date": "2026-03-02"},
                       now=dt.datetime(2026, 3, 3, 2, 0, tzinfo=dt.UTC))  # fmt: skip
    assert p.due_date == dt.date(2026, 3, 2)
