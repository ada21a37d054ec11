"""Loops that really wait (issue 10 item 6): validation decides per exit whether a path waits,
and the engine bounds a runaway enrolment across rounds, whatever graph it runs."""

import datetime as dt

import pytest
from django.utils import timezone

from contacts.models import AttributeDefinition
from journeys.models import Enrollment, JourneyCounter, Step
from journeys.services import JourneyInvalid, journey_create, journey_publish
from journeys.validation import validate_graph
from tests.journeys.conftest import graph, node, texts_to

pytestmark = pytest.mark.django_db

SEND = {"channel": "sms", "template": {"en": "Pay now"}}


def spam_loop():
    """trigger → send → hand-off that continues at once → send again: the 530-message loop."""
    return graph(
        trigger=node("trigger.event", {"event": "signup"}, next="send"),
        send=node("message.send", SEND, next="handoff", failed=None),
        handoff=node("inbox.handoff", {"queue": "support", "continue": "immediately"}, next="send"),
    )


def loop_problems(g, workspace):
    return [p for p in validate_graph(g, workspace=workspace) if "Loop without a wait" in p["message"]]


def test_the_spam_loop_is_refused_at_publish_naming_the_node_and_exit(workspace, actor):
    journey = journey_create(workspace=workspace, actor=actor, name="Spam", graph=spam_loop())
    with pytest.raises(JourneyInvalid) as exc:
        journey_publish(journey=journey, actor=actor)
    [p] = [p for p in exc.value.problems if "Loop without a wait" in p["message"]]
    assert (p["node"], p["field"]) == ("send", "exits.next")
    assert "send (next) → handoff (next) → send" in p["message"]


def test_a_hand_off_that_waits_for_the_agent_makes_the_same_loop_valid(workspace):
    g = spam_loop()
    g["nodes"]["handoff"] = node(
        "inbox.handoff", {"queue": "support", "continue": "on_resolved"}, resolved="send", timeout=None
    )
    assert validate_graph(g, workspace=workspace) == []


def test_a_loop_through_a_wait_untils_missing_exit_is_refused(workspace):
    AttributeDefinition.objects.create(workspace=workspace, key="due_on", type="date")
    g = graph(
        trigger=node("trigger.event", {"event": "signup"}, next="until"),
        until=node("wait.until", {"mode": "attribute", "attribute": "due_on", "time": "09:00"}, next=None,
                   missing="send"),
        send=node("message.send", SEND, next="until", failed=None),
    )  # fmt: skip
    [p] = loop_problems(g, workspace)
    assert p["node"] in ("until", "send")
    assert "until (missing)" in p["message"] and "send (next)" in p["message"]


def test_a_date_attribute_already_past_does_not_wait_either(workspace):
    # wait.until on a date attribute continues at once when the date has passed: its `next`
    # exit cannot carry a loop; a time of day always waits for the next one and can
    AttributeDefinition.objects.create(workspace=workspace, key="due_on", type="date")
    until = {"mode": "attribute", "attribute": "due_on", "time": "09:00"}
    g = graph(
        trigger=node("trigger.event", {"event": "signup"}, next="until"),
        until=node("wait.until", until, next="send", missing=None),
        send=node("message.send", SEND, next="until", failed=None),
    )
    assert loop_problems(g, workspace)
    g["nodes"]["until"] = node("wait.until", {"mode": "time_of_day", "time": "09:00"}, next="send")
    assert validate_graph(g, workspace=workspace) == []


def test_a_failed_send_exit_looping_back_is_refused_but_the_reply_exits_are_fine(workspace):
    ask = {**SEND, "timeout_s": 3600, "branches": [{"exit": "yes", "match": "keywords", "values": ["yes"]}]}
    g = graph(
        trigger=node("trigger.event", {"event": "signup"}, next="ask"),
        ask=node("message.ask", ask, yes=None, other="ask", timeout="ask", failed=None),
    )
    assert validate_graph(g, workspace=workspace) == []  # a reply or the timeout: it waited
    g["nodes"]["ask"]["exits"]["failed"] = "ask"  # a refused send comes straight back
    [p] = loop_problems(g, workspace)
    assert (p["node"], p["field"]) == ("ask", "exits.failed")


def test_a_webhook_answer_is_not_a_wait(workspace):
    hook = {"method": "GET", "url": "https://example.com/status"}
    g = graph(
        trigger=node("trigger.event", {"event": "signup"}, next="send"),
        send=node("message.send", SEND, next="hook", failed=None),
        hook=node("webhook.call", hook, success="send", failure=None),
    )
    [p] = loop_problems(g, workspace)
    assert "hook (success)" in p["message"]


# --- the engine bounds what validation did not see ------------------------------------------


def publish_unvalidated(monkeypatch, workspace, actor, g):
    """Publish a graph as an older validator would have (or a row written by hand)."""
    monkeypatch.setattr("journeys.services.journeys.validate_graph", lambda *a, **k: [])
    journey = journey_create(workspace=workspace, actor=actor, name="Old loop", graph=g)
    journey_publish(journey=journey, actor=actor)
    return journey


def test_the_engine_stops_the_spam_loop_after_the_bound_with_the_reason(
    workspace, actor, fire, engine, contact, monkeypatch
):
    journey = publish_unvalidated(monkeypatch, workspace, actor, spam_loop())
    now = timezone.now()
    fire(contact, "signup", now=now)
    engine(now)

    e = Enrollment.objects.get(contact=contact)
    # then: ten messages (the bound), not hundreds; the contact's history says why
    assert texts_to(contact) == ["Pay now"] * 10
    assert e.status == "failed"
    assert e.end_reason == "loop guard: entered 'send' 10 times without waiting"
    last = Step.objects.filter(enrollment=e).order_by("-id").first()
    assert (last.node, last.detail["reason"]) == ("send", e.end_reason)
    # and the canvas node shows the failure
    failed = JourneyCounter.objects.get(journey=journey, node="send", key="failed").value
    assert failed == 1


def test_the_canvas_node_shows_the_failure_and_its_contacts_the_reason(
    workspace, actor, fire, engine, contact, monkeypatch, admin_client
):
    from django.urls import reverse

    journey = publish_unvalidated(monkeypatch, workspace, actor, spam_loop())
    fire(contact, "signup")
    engine()
    counts = admin_client.get(reverse("editor_counts", args=[journey.pk])).json()["counts"]
    assert counts["send"]["failed"] == 1
    page = admin_client.get(reverse("editor_contacts", args=[journey.pk]), {"node": "send"})
    assert "loop guard: entered &#x27;send&#x27; 10 times without waiting" in page.content.decode()
    history = admin_client.get(reverse("contact_detail", args=[contact.pk])).content.decode()
    assert "loop guard: entered &#x27;send&#x27; 10 times without waiting" in history


def test_the_bound_holds_across_rounds_and_engine_processes(
    workspace, actor, fire, contact, monkeypatch, settings
):
    """Each round starts afresh in memory: the counts must live on the enrolment."""
    from journeys.engine import runner

    settings.JOURNEYS_MAX_NODE_VISITS = 25  # more than one round's send passes
    publish_unvalidated(monkeypatch, workspace, actor, spam_loop())
    now = timezone.now()
    fire(contact, "signup", now=now)
    for _ in range(10):
        runner.run_round(now=now)
    assert len(texts_to(contact)) == 25
    assert Enrollment.objects.get(contact=contact).status == "failed"


def test_a_loop_through_a_short_wait_is_bounded_by_steps_per_window(
    workspace, publish, fire, engine, contact, settings
):
    # valid (it waits a second each time round), but 2 nodes a second is more than the limit
    settings.JOURNEYS_MAX_STEPS_PER_WINDOW = 20
    settings.JOURNEYS_STEP_WINDOW_S = 60
    g = graph(
        trigger=node("trigger.event", {"event": "signup"}, next="send"),
        send=node("message.send", SEND, next="pause", failed=None),
        pause=node("wait.delay", {"seconds": 1}, next="send"),
    )
    publish(g)
    t0 = timezone.now()
    fire(contact, "signup", now=t0)
    for second in range(30):
        engine(t0 + dt.timedelta(seconds=second))
    e = Enrollment.objects.get(contact=contact)
    assert e.status == "failed"
    assert e.end_reason == "loop guard: more than 20 steps within 60 s"
    assert len(texts_to(contact)) == 10  # 20 nodes entered: 10 sends and their 10 waits


def test_a_loop_that_waits_long_enough_is_never_stopped(workspace, publish, fire, engine, contact):
    g = graph(
        trigger=node("trigger.event", {"event": "signup"}, next="send"),
        send=node("message.send", SEND, next="pause", failed=None),
        pause=node("wait.delay", {"seconds": 3600}, next="send"),
    )
    publish(g)
    t0 = timezone.now()
    fire(contact, "signup", now=t0)
    for hour in range(30):  # more reminders than the visits bound: each one waited
        engine(t0 + dt.timedelta(hours=hour, seconds=1))
    assert Enrollment.objects.get(contact=contact).status == "waiting"
    assert len(texts_to(contact)) == 30
