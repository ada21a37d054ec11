"""Conversations open from inbound messages and journeys' hand-offs, reopen, and go back to the
journey: through the real inbound pipeline and the real journey engine."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from contacts.models import Event
from inbox import services
from inbox.models import Conversation, Entry, Queue
from journeys.models import Enrollment
from tests.factories import ContactFactory
from tests.inbox.conftest import T0, inbound, make_agent, make_queue
from tests.journeys.conftest import graph, node

pytestmark = pytest.mark.django_db


def test_an_inbound_message_from_a_new_contact_opens_a_numbered_conversation(workspace, contact):
    # when
    message = inbound(contact, "Hello, I need help with my bill")
    # then
    conversation = Conversation.objects.get(contact=contact)
    assert conversation.number == 1 and conversation.status == "open"
    assert conversation.queue.name == "support"  # the default queue, created on first use
    assert conversation.waiting_since == message.created_at
    assert conversation.last_inbound_kind == "sms" and conversation.last_message_at == message.created_at
    other = ContactFactory(workspace=workspace, phone="+447911123457")
    inbound(other, "hi")
    assert Conversation.objects.get(contact=other).number == 2


def test_more_messages_keep_one_conversation_and_the_first_wait(workspace, contact):
    first = inbound(contact, "Hello")
    inbound(contact, "Anyone there?", now=T0 + dt.timedelta(minutes=5))
    conversation = Conversation.objects.get(contact=contact)
    assert conversation.waiting_since == first.created_at
    assert conversation.last_message_at == T0 + dt.timedelta(minutes=5)


def test_a_message_after_resolving_reopens_it_then_later_a_new_one_opens(workspace, contact, actor):
    inbound(contact, "Hello")
    conversation = Conversation.objects.get(contact=contact)
    services.conversation_resolve(actor=actor, conversation=conversation, disposition="paid", now=T0)
    inbound(contact, "One more thing", now=T0 + dt.timedelta(days=1))
    conversation.refresh_from_db()
    assert conversation.status == "open" and conversation.disposition == "" and conversation.number == 1
    assert list(conversation.entries.filter(kind="status_changed").values_list("data__to", flat=True)) == [
        "resolved",
        "open",
    ]
    services.conversation_resolve(actor=actor, conversation=conversation, now=T0 + dt.timedelta(days=1))
    inbound(contact, "Hello again", now=T0 + dt.timedelta(days=30))
    assert Conversation.objects.filter(contact=contact).count() == 2
    assert Conversation.objects.exclude(status="resolved").get(contact=contact).number == 2


def test_a_message_wakes_a_snoozed_conversation(workspace, contact, actor):
    inbound(contact, "Hello")
    conversation = Conversation.objects.get(contact=contact)
    services.conversation_set_status(
        actor=actor,
        conversation=conversation,
        status="snoozed",
        snoozed_until=T0 + dt.timedelta(days=2),
        now=T0,
    )
    inbound(contact, "Still waiting", now=T0 + dt.timedelta(hours=1))
    conversation.refresh_from_db()
    assert conversation.status == "open" and conversation.snoozed_until is None


def test_a_snooze_ends_by_itself_at_its_time(workspace, contact, actor):
    inbound(contact, "Hello")
    conversation = Conversation.objects.get(contact=contact)
    services.conversation_set_status(
        actor=actor,
        conversation=conversation,
        status="snoozed",
        snoozed_until=T0 + dt.timedelta(hours=2),
        now=T0,
    )
    assert services.snoozed_wake(now=T0 + dt.timedelta(hours=1)) == 0
    assert services.snoozed_wake(now=T0 + dt.timedelta(hours=2)) == 1
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_a_stop_keyword_opens_nothing_but_is_noted_on_an_open_conversation(workspace, contact):
    inbound(contact, "STOP")
    assert not Conversation.objects.filter(contact=contact).exists()
    inbound(contact, "Hello", now=T0 + dt.timedelta(minutes=1))
    inbound(contact, "STOP", now=T0 + dt.timedelta(minutes=2))
    entry = Entry.objects.get(kind="consent_changed")
    assert "Opted out on SMS" in entry.body


def test_an_opt_out_the_rules_could_not_decide_opens_a_conversation_flagged_for_review(workspace, contact):
    inbound(contact, "please cancel my order and stop the deliveries to my old address now")
    conversation = Conversation.objects.get(contact=contact)
    assert conversation.needs_review
    assert "To review" in conversation.review_reason
    assert conversation.entries.filter(kind="flagged_for_review").exists()


def test_a_reply_a_journey_waits_for_is_the_journey_s_not_an_agent_s(
    workspace, contact, publish, fire, engine
):
    cfg = {"channel": "sms", "template": {"en": "Reply YES to confirm"}, "timeout_s": 3600}
    g = graph(
        trigger=node("trigger.event", {"event": "signup"}, next="ask"),
        ask=node("message.ask", cfg, reply=None, timeout=None, failed=None, **{"no_match": None}),
    )
    from journeys.nodes import REGISTRY

    g["nodes"]["ask"]["exits"] = {name: None for name in REGISTRY["message.ask"].exit_names(cfg)}
    publish(g)
    fire(contact, "signup", now=T0)
    engine(T0)
    assert Enrollment.objects.get(contact=contact).wait_kind == "reply"
    inbound(contact, "YES", now=T0 + dt.timedelta(minutes=1))
    assert not Conversation.objects.filter(contact=contact).exists()


# --- hand-off from a journey and back --------------------------------------------------------------


def _handoff_journey(publish, continue_="on_resolved"):
    exits = {"resolved": "thanks", "timeout": None} if continue_ == "on_resolved" else {"next": "thanks"}
    g = graph(
        trigger=node("trigger.event", {"event": "payment_failed"}, next="agent"),
        agent=node(
            "inbox.handoff",
            {"queue": "collections", "priority": "high", "note": "{{contact.first_name}} missed a payment",
             "continue": continue_, "timeout_s": 86400},
            **exits,
        ),
        thanks=node("message.send", {"channel": "sms", "template": {"en": "Thanks {{contact.first_name}}"}},
                    next=None, failed=None),
    )  # fmt: skip
    return publish(g)


def test_a_hand_off_opens_the_conversation_in_its_queue_and_return_resumes_the_journey(
    workspace, contact, actor, publish, fire, engine
):
    journey = _handoff_journey(publish)
    fire(contact, "payment_failed", now=T0)
    engine(T0)
    # the conversation is in the journey's queue (created on first use), with the note
    conversation = Conversation.objects.get(contact=contact)
    assert conversation.queue == Queue.objects.get(workspace=workspace, name="collections")
    assert conversation.priority == "high" and conversation.waiting_since is not None
    handed = conversation.entries.get(kind="handed_off")
    assert handed.body == "Ada missed a payment"
    assert handed.data["journey_id"] == journey.pk and handed.data["node"] == "agent"
    enrollment = Enrollment.objects.get(contact=contact)
    assert enrollment.status == "waiting" and enrollment.node == "agent"
    assert services.waiting_enrollment(conversation) == enrollment
    # when the agent returns the contact to the journey
    services.conversation_return_to_journey(
        actor=actor, conversation=conversation, note="Sorted", now=T0 + dt.timedelta(minutes=5)
    )
    engine(T0 + dt.timedelta(minutes=5))
    # then the hand-off's waiting exit resumes and the journey goes on
    enrollment.refresh_from_db()
    assert enrollment.status == "completed"
    from channels_app.models import Message

    assert Message.objects.filter(contact=contact, direction="out", text="Thanks Ada").exists()
    conversation.refresh_from_db()
    assert conversation.status == "resolved"
    assert conversation.entries.filter(kind="returned_to_journey").exists()


def test_resolving_a_handed_off_conversation_resumes_the_journey_too(
    workspace, contact, actor, publish, fire, engine
):
    _handoff_journey(publish)
    fire(contact, "payment_failed", now=T0)
    engine(T0)
    conversation = Conversation.objects.get(contact=contact)
    services.conversation_resolve(
        actor=actor, conversation=conversation, disposition="promised", now=T0 + dt.timedelta(minutes=1)
    )
    engine(T0 + dt.timedelta(minutes=1))
    assert Enrollment.objects.get(contact=contact).status == "completed"
    event = Event.objects.get(contact=contact, name="conversation.resolved")
    assert event.properties["disposition"] == "promised" and event.properties["returned"] is False


def test_return_is_refused_when_no_journey_waits(workspace, contact, actor, publish, fire, engine):
    _handoff_journey(publish, continue_="immediately")
    fire(contact, "payment_failed", now=T0)
    engine(T0)
    conversation = Conversation.objects.get(contact=contact)
    with pytest.raises(ValidationError) as caught:
        services.conversation_return_to_journey(actor=actor, conversation=conversation)
    assert "No journey is waiting" in caught.value.messages[0]
    conversation.refresh_from_db()
    assert conversation.status == "open"


def test_a_hand_off_moves_an_unassigned_conversation_to_its_queue_but_not_an_agent_s(
    workspace, contact, actor, publish, fire, engine
):
    inbound(contact, "Hello")
    conversation = Conversation.objects.get(contact=contact)
    assert conversation.queue.name == "support"
    _handoff_journey(publish, continue_="immediately")
    fire(contact, "payment_failed", now=T0 + dt.timedelta(minutes=1))
    engine(T0 + dt.timedelta(minutes=1))
    conversation.refresh_from_db()
    assert conversation.queue.name == "collections" and conversation.priority == "high"
    assert conversation.entries.filter(kind="transferred").exists()
    # an agent has it: a second hand-off leaves it with them
    agent = make_agent(workspace, "jo", queues=[conversation.queue])
    services.conversation_assign(actor=actor, conversation=conversation, assignee=agent)
    make_queue(workspace, "legal")
    services.conversation_open_or_reopen(
        workspace=workspace, contact=contact, actor=actor, queue=Queue.objects.get(name="legal"),
        handoff={"queue": "legal", "note": "dispute"},
    )  # fmt: skip
    conversation.refresh_from_db()
    assert conversation.queue.name == "collections" and conversation.assignee == agent


def test_claim_assign_transfer_leave_activity_entries(workspace, contact, actor):
    inbound(contact, "Hello")
    conversation = Conversation.objects.get(contact=contact)
    jo = make_agent(workspace, "jo", queues=[conversation.queue])
    ann = make_agent(workspace, "ann", queues=[conversation.queue])
    from cpaas.tenancy import Actor

    services.conversation_claim(actor=Actor.for_user(jo), conversation=conversation)
    with pytest.raises(ValidationError) as caught:
        services.conversation_claim(actor=Actor.for_user(ann), conversation=conversation)
    assert "Already assigned to jo" in caught.value.messages[0]
    billing = make_queue(workspace, "billing")
    services.conversation_transfer(
        actor=actor, conversation=conversation, queue=billing, note="Billing question"
    )
    conversation.refresh_from_db()
    assert conversation.queue == billing and conversation.assignee is None
    kinds = list(conversation.entries.order_by("created_at", "pk").values_list("kind", "body"))
    assert kinds[-2:] == [("assigned", ""), ("transferred", "Billing question")]
    viewer = make_agent(workspace, "vic", role="viewer")
    with pytest.raises(ValidationError):
        services.conversation_assign(actor=actor, conversation=conversation, assignee=viewer)


def test_a_note_mentions_agents_of_the_workspace_only(workspace, other_workspace, contact, actor):
    inbound(contact, "Hello")
    conversation = Conversation.objects.get(contact=contact)
    jo = make_agent(workspace, "jo")
    make_agent(other_workspace, "stranger")
    entry = services.note_add(actor=actor, conversation=conversation, body="@jo can you call? cc @stranger")
    assert list(entry.mentions.all()) == [jo]
    with pytest.raises(ValidationError):
        services.note_add(actor=actor, conversation=conversation, body="  ")


@pytest.mark.parametrize("status", ["snoozed", "pending"])
def test_a_hand_off_wakes_a_snoozed_or_pending_conversation(workspace, contact, actor, status):
    inbound(contact, "Hello")
    conversation = Conversation.objects.get(contact=contact)
    services.conversation_set_status(
        actor=actor, conversation=conversation, status=status, snoozed_until=T0 + dt.timedelta(days=3), now=T0
    ) if status == "snoozed" else services.conversation_set_status(
        actor=actor, conversation=conversation, status=status, now=T0
    )
    services.conversation_open_or_reopen(
        workspace=workspace, contact=contact, actor=actor, queue=conversation.queue,
        handoff={"queue": "support", "note": "missed a payment"}, now=T0 + dt.timedelta(hours=1),
    )  # fmt: skip
    conversation.refresh_from_db()
    assert conversation.status == "open" and conversation.snoozed_until is None


def test_an_integration_may_ask_for_a_person_through_the_events_api(workspace, contact, api):
    response = api.post(
        "/api/v1/events/",
        {"contact": {"id": contact.pk}, "name": "inbox.handoff_requested",
         "properties": {"queue": "vip", "priority": "urgent", "note": "Call back about the loan",
                        "enrollment_id": "not-an-id", "journey_id": {"x": 1}, "node": ["?"]}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    conversation = Conversation.objects.get(contact=contact)
    assert conversation.queue.name == "vip" and conversation.priority == "urgent"
    assert conversation.handoff_enrollment_id is None and conversation.handoff_journey_id is None
    assert conversation.entries.get(kind="handed_off").body == "Call back about the loan"
