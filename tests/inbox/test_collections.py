"""Collections tools in the inbox (issue 13 item 8): a promise to pay recorded from the panel
shows on the contact and reaches the journey waiting on it; the 7-in-7 call counter, and agent
calls held to the same cap."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from channels_app.services.dispatch import dispatch_pending
from consent import services as consent
from inbox.models import Entry
from journeys.models import Enrollment, PromiseToPay
from tests.conftest import client_for
from tests.factories import ContactFactory
from tests.inbox.panel_helpers import conversation, queue
from tests.journeys.conftest import graph, node, texts_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(workspace):
    return ContactFactory(
        workspace=workspace, first_name="Ada", phone="+447911123456", timezone="Europe/London", language="en"
    )


@pytest.fixture
def publish(workspace, admin_user):
    from cpaas.tenancy import Actor
    from journeys.services import journey_create, journey_publish

    def _publish(g):
        actor = Actor.for_user(admin_user)
        journey = journey_create(workspace=workspace, actor=actor, name="Collections", graph=g)
        journey_publish(journey=journey, actor=actor)

    return _publish


def fire(contact, name, now):
    from contacts.services import event_record

    event_record(workspace=contact.workspace, contact=contact, name=name, properties={}, now=now)


def engine(now):
    from journeys.engine import run_pending

    run_pending(now=now)


@pytest.fixture
def conv(workspace, contact, agent):
    return conversation(workspace, contact, queue(workspace, members=[agent]))


def url(conv, name):
    return reverse(name, kwargs={"number": conv.number})


def test_a_promise_recorded_in_the_panel_shows_on_the_contact_and_reaches_the_journey(
    workspace, contact, conv, agent, publish
):
    # given: a collections journey asked when the customer can pay, and waits for the answer
    cfg = {"channel": "sms", "template": {"en": "When can you pay?"}, "timeout_s": 86400,
           "reminder_template": {"en": "Reminder: {{promise.amount}} due today."}, "remind_at": "09:00"}  # fmt: skip
    publish(graph(
        trigger=node("trigger.event", {"event": "signup"}, next="ptp"),
        ptp=node("payment.promise", cfg, paid=None, broken=None, no_response=None, failed=None),
    ))  # fmt: skip
    now = timezone.now()
    fire(contact, "signup", now=now)
    engine(now)
    assert texts_to(contact) == ["When can you pay?"]
    due = (now + dt.timedelta(days=3)).astimezone(dt.UTC).date()
    # when: the customer phones instead and the agent records the promise in the panel
    response = client_for(agent).post(
        url(conv, "inbox_promise_record"),
        {"amount": "75.00", "currency": "GBP", "due_date": due.isoformat(), "reminder_channel": "sms",
         "note": "Will pay after payday"},
        HTTP_HX_REQUEST="true",
    )  # fmt: skip
    # then: the panel shows it, the timeline has it, the journey holds it
    html = response.content.decode()
    assert response.status_code == 200 and "75.00 GBP" in html and f"{due:%Y-%m-%d}" in html
    promise = PromiseToPay.objects.get(contact=contact)
    assert promise.recorded_by == agent and promise.source_text == "Will pay after payday"
    entry = Entry.objects.get(conversation=conv, kind="promise_recorded")
    assert (
        entry.author == agent
        and entry.data["amount"] == "75.00"
        and entry.data["due_date"] == due.isoformat()
    )
    engine(timezone.now())
    enrollment = Enrollment.objects.get(contact=contact)
    assert promise.enrollment_id == enrollment.pk
    assert enrollment.state["stage"] == "promised" and enrollment.context["promise"]["amount"] == "75.00"
    assert texts_to(contact) == ["When can you pay?"]  # not asked again
    reminder_at = dt.datetime.combine(due, dt.time(9, 1), tzinfo=dt.UTC)  # 09:00 London (GMT)
    engine(reminder_at)
    dispatch_pending(now=reminder_at)
    assert texts_to(contact)[-1] == "Reminder: 75.00 due today."


def test_a_bad_promise_is_refused_beside_its_field(workspace, contact, conv, agent):
    yesterday = (timezone.now() - dt.timedelta(days=2)).date().isoformat()
    html = (
        client_for(agent)
        .post(
            url(conv, "inbox_promise_record"),
            {"amount": "-5", "currency": "GBP", "due_date": yesterday},
            HTTP_HX_REQUEST="true",
        )
        .content.decode()
    )
    assert "The amount must be more than 0." in html and "The date is in the past" in html
    assert 'id="promise-details"' in html and "<details open" in html
    assert not PromiseToPay.objects.exists() and not Entry.objects.exists()


def test_a_viewer_cannot_record_a_promise(workspace, contact, conv):
    from tests.conftest import _member

    viewer = _member(workspace, "viewer", "v-viewer")
    response = client_for(viewer).post(url(conv, "inbox_promise_record"), {"due_date": "2030-01-01"})
    assert response.status_code == 403 and not PromiseToPay.objects.exists()


def _calls(contact, n, at):
    for i in range(n):
        consent.send_recorded(
            contact=contact,
            channel_kind="voice",
            purpose="collections",
            at=at - dt.timedelta(hours=10 * i + 1),
        )


def test_the_call_counter_follows_the_seven_in_seven_rule(workspace, contact, conv, agent):
    now = timezone.now()
    _calls(contact, 5, now)
    consent.send_recorded(contact=contact, channel_kind="sms", purpose="collections", at=now)  # not a call
    html = client_for(agent).get(url(conv, "inbox_contact_panel")).content.decode()
    assert "<b>5 of 7</b>" in html and "no more calls" not in html
    _calls(contact, 2, now - dt.timedelta(minutes=5))
    html = client_for(agent).get(url(conv, "inbox_contact_panel")).content.decode()
    assert "<b>7 of 7</b> — no more calls until" in html


def test_an_agents_call_is_held_to_the_same_cap(workspace, contact):
    """One cap mechanism: a person's collections call past 7 in 7 days is deferred by consent,
    not sent, until the oldest counted call leaves the window."""
    from channels_app.services.messages import message_send

    now = timezone.now().replace(hour=12, minute=0)  # outside collections' quiet hours (21:00-08:00)
    _calls(contact, 7, now)
    message = message_send(
        workspace=workspace, contact=contact, channel="voice", purpose="collections",
        content={"text": "Calling about your account"}, sent_by="person", now=now,
    )  # fmt: skip
    assert message.status == "deferred"
    assert message.consent_rule == "frequency_cap" and "(the cap is 7)" in message.consent_reason


@pytest.mark.parametrize("code", ["paid", "dispute", "hardship", "wrong_number"])
def test_resolving_with_a_disposition_code(workspace, contact, conv, agent, code):
    response = client_for(agent).post(
        url(conv, "inbox_panel_resolve"), {"disposition": code, "note": "Done"}, HTTP_HX_REQUEST="true"
    )
    conv.refresh_from_db()
    assert (conv.status, conv.disposition) == ("resolved", code)
    assert 'id="resolved-badge"' in response.content.decode()
    from contacts.models import Event

    assert Event.objects.get(contact=contact, name="conversation.resolved").properties["disposition"] == code


def test_promised_and_vulnerable_need_their_facts_first(workspace, contact, conv, agent):
    c = client_for(agent)
    html = c.post(
        url(conv, "inbox_panel_resolve"), {"disposition": "promised"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Record the promise to pay first (amount and date)." in html
    html = c.post(
        url(conv, "inbox_panel_resolve"), {"disposition": "vulnerable"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Flag the customer as vulnerable first, with a note." in html
    html = c.post(
        url(conv, "inbox_panel_resolve"), {"disposition": ""}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Choose how the conversation ended." in html
    conv.refresh_from_db()
    assert conv.status == "open"
    due = (timezone.now() + dt.timedelta(days=2)).date().isoformat()
    c.post(url(conv, "inbox_promise_record"), {"due_date": due, "amount": "10", "currency": "GBP"})
    c.post(url(conv, "inbox_panel_resolve"), {"disposition": "promised"})
    conv.refresh_from_db()
    assert (conv.status, conv.disposition) == ("resolved", "promised")
    # resolving twice says so
    response = c.post(url(conv, "inbox_panel_resolve"), {"disposition": "paid"})
    assert (
        response.status_code == 400 and "This conversation is already resolved." in response.content.decode()
    )
