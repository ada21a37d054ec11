"""What the inbox hears on the bus (cpaas.bus), inside the transaction that recorded the event:

- `message.received`: the contact's conversation opens (or reopens, or just moves on). Not for
  a consent keyword (STOP, START, HELP: the registry answered it; an unresolved conversation
  gets a "consent changed" entry), nor when a journey is waiting for this reply and no
  conversation is open (the journey asked the question: its answer is not work for an agent).
  A message that holds an opt-out the keyword rules could not decide (consent's review list)
  always opens one, flagged for review.
- `inbox.handoff_requested` (a journey's `inbox.handoff` node): opens or reopens it in the
  node's queue (created on first use) with the priority and the note. Editor test runs open
  nothing."""

from __future__ import annotations

from channels_app.models import Message
from consent.models import KeywordReview
from cpaas.tenancy import Actor
from journeys.models import Enrollment

from .models import Conversation, Entry
from .services import conversation_open_or_reopen, queue_for_name
from .services.conversations import HANDOFF_EVENT, entry_add

RECEIVED = "message.received"
CONSENT_KEYWORDS = {"stop": "Opted out", "start": "Opted in again"}


def _unresolved(event) -> Conversation | None:
    return (
        Conversation.objects.filter(workspace_id=event.workspace_id, contact_id=event.contact_id)
        .exclude(status=Conversation.Status.RESOLVED)
        .first()
    )


def on_message_received(event) -> None:
    props = event.properties or {}
    message = Message.objects.filter(pk=props.get("message_id"), workspace_id=event.workspace_id).first()
    if message is None:
        return
    keyword = props.get("keyword") or ""
    if keyword:
        conversation = _unresolved(event)
        if conversation is not None and keyword in CONSENT_KEYWORDS:
            entry_add(
                conversation,
                Entry.Kind.CONSENT_CHANGED,
                at=event.occurred_at,
                body=f"{CONSENT_KEYWORDS[keyword]} on {message.get_kind_display()} by the keyword “{message.text[:40]}”.",
                data={"keyword": keyword, "channel": message.kind, "message_id": message.pk},
            )
        return
    review = KeywordReview.objects.filter(
        workspace_id=event.workspace_id,
        contact_id=event.contact_id,
        decision=KeywordReview.Decision.OPEN,
        inbound_message_id=f"{message.channel_id}:{message.provider_message_id}"[:120],
    ).first()
    if review is None and _unresolved(event) is None:
        journey_waits = Enrollment.objects.filter(
            contact_id=event.contact_id, status=Enrollment.Status.WAITING, wait_kind="reply"
        ).exists()
        if journey_waits:
            return
    reason = f"May be an opt-out ({review.rule}): decide on Consent › To review." if review else ""
    conversation_open_or_reopen(
        workspace=event.workspace,
        contact=event.contact,
        actor=Actor.system("inbound message"),
        message=message,
        review_reason=reason,
        now=event.occurred_at,
    )


def _id(value) -> int | None:
    """An id from the event's properties: the engine writes ints; an API caller may write anything."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def on_handoff_requested(event) -> None:
    """Also reachable from outside: an integration may record `inbox.handoff_requested` through
    the events API to ask for a person (its properties are then checked here, not trusted)."""
    props = event.properties or {}
    enrollment_id = _id(props.get("enrollment_id"))
    if enrollment_id and Enrollment.objects.filter(pk=enrollment_id, is_test=True).exists():
        return
    priority = props.get("priority") if props.get("priority") in Conversation.Priority.values else "normal"
    queue_name = props.get("queue") if isinstance(props.get("queue"), str) else ""
    conversation_open_or_reopen(
        workspace=event.workspace,
        contact=event.contact,
        actor=Actor.system("journey hand-off"),
        queue=queue_for_name(event.workspace, queue_name),
        priority=priority,
        handoff={
            "queue": queue_name,
            "priority": priority,
            "note": str(props.get("note") or "")[:1000],
            "journey_id": _id(props.get("journey_id")),
            "enrollment_id": enrollment_id,
            "node": str(props.get("node") or "")[:64],
        },
        now=event.occurred_at,
    )


SUBSCRIPTIONS = {RECEIVED: on_message_received, HANDOFF_EVENT: on_handoff_requested}
