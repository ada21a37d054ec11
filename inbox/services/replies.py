"""Agent replies. Every reply is one message through the one send pipeline
(`channels_app.services.messages.message_send`) as a person's send (`sent_by="person"`,
origin "agent"): consent decides it there (blocked with the reason, deferred to a time, or
queued), the dispatcher decides again at hand-over. Nothing here goes around it.

`reply_preview` asks consent's decision for a reply without sending: the composer calls it as
the agent types and shows why the reply would be blocked or deferred, and when the WhatsApp
window is closed, that a template is needed."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from channels_app import consent_gate
from channels_app.models import Message, Purpose
from channels_app.services.messages import message_send
from channels_app.services.pipeline import active_channels
from consent.models import SentBy
from contacts.addresses import contact_address, missing_address_reason
from contacts.models import ChannelKind
from cpaas.audit import audit_record
from cpaas.tenancy import Actor

from .. import live
from ..models import Conversation, Reply

WINDOW_RULE = "whatsapp.window"
TEXT_MAX = 4096
RETRY_SAFE = frozenset({Message.Status.FAILED, Message.Status.BLOCKED})  # never "unknown": it may have gone


@dataclass(frozen=True)
class Preview:
    """What would happen to the reply now: outcome allow / deny / defer, the rule and the
    reason in words, when a deferred one would go, and whether only a template can be sent."""

    outcome: str
    rule: str = ""
    reason: str = ""
    defer_until: dt.datetime | None = None
    template_required: bool = False

    def as_json(self) -> dict:
        data = asdict(self)
        data["defer_until"] = self.defer_until.isoformat() if self.defer_until else None
        return data


def default_channel(conversation: Conversation) -> str:
    """The composer's default: the channel of the customer's last message, else their
    preferred channel, else SMS."""
    return conversation.last_inbound_kind or conversation.contact.preferred_channel or ChannelKind.SMS


def _clean_kind(channel_kind: str) -> str:
    if channel_kind not in ChannelKind.values:
        raise ValidationError({"channel_kind": [f"One of: {', '.join(ChannelKind.values)}."]})
    return channel_kind


def reply_preview(
    *,
    conversation: Conversation,
    channel_kind: str,
    is_template: bool = False,
    purpose: str = Purpose.TRANSACTIONAL,
    now: dt.datetime | None = None,
) -> Preview:
    """Consent's decision for a person's reply on `channel_kind` now, without sending."""
    now = now or timezone.now()
    kind = _clean_kind(channel_kind)
    contact = conversation.contact
    if not active_channels(conversation.workspace).get(kind):
        return Preview(
            "deny", "channel.unavailable", f"No active {ChannelKind(kind).label} channel in this workspace."
        )
    if not contact_address(contact, kind):
        return Preview("deny", "address.missing", missing_address_reason(contact, kind))
    verdict = consent_gate.check(contact, kind, purpose, now, is_template=is_template, sent_by=SentBy.PERSON)
    return Preview(
        verdict.outcome,
        verdict.rule,
        verdict.reason,
        verdict.defer_until,
        template_required=verdict.outcome == "deny" and verdict.rule == WINDOW_RULE and not is_template,
    )


def _content(text, template, variables, media_url) -> dict:
    text = (text or "").strip()
    if len(text) > TEXT_MAX:
        raise ValidationError({"text": [f"At most {TEXT_MAX:,} characters."]})
    content: dict = {}
    if template:
        if not isinstance(template, str) or not template.strip():
            raise ValidationError({"template": ["The approved template's name."]})
        if variables is not None and not isinstance(variables, dict | list):
            raise ValidationError({"variables": ["An object or a list."]})
        content["template"] = {"name": template.strip(), "variables": variables or {}}
    elif variables:
        raise ValidationError({"variables": ["Variables go with a template."]})
    if text:
        content["text"] = text
    if media_url:
        content["media_url"] = str(media_url).strip()
    if not content:
        raise ValidationError({"text": ["Write a reply, or choose a template."]})
    return content


@transaction.atomic
def reply_send(
    *,
    actor: Actor,
    conversation: Conversation,
    channel_kind: str | None = None,
    text: str = "",
    template: str | None = None,
    variables: dict | list | None = None,
    media_url: str = "",
    send_at: dt.datetime | None = None,
    purpose: str = Purpose.TRANSACTIONAL,
    idempotency_key: str | None = None,
    now: dt.datetime | None = None,
) -> Message:
    """Send an agent's reply through the pipeline as a person's send. The message is stored
    whatever consent decides: a blocked reply is a blocked message with the reason, shown in the
    thread. The first reply that is not blocked is the conversation's first response; it ends
    the customer's wait. `send_at` schedules it (deferred until then, consent asked again)."""
    now = now or timezone.now()
    kind = _clean_kind(channel_kind or default_channel(conversation))
    if send_at is not None and (timezone.is_naive(send_at) or send_at <= now):
        raise ValidationError({"send_at": ["A time in the future, with its time zone."]})
    if conversation.is_resolved:
        raise ValidationError({"conversation": ["This conversation is resolved: reopen it to reply."]})
    content = _content(text, template, variables, media_url)
    last_inbound = (
        Message.objects.filter(
            workspace=conversation.workspace,
            contact=conversation.contact,
            direction=Message.Direction.INBOUND,
            kind=kind,
        )
        .order_by("-created_at", "-pk")
        .only("pk")
        .first()
    )
    message = message_send(
        workspace=conversation.workspace,
        contact=conversation.contact,
        channel=kind,
        content=content,
        purpose=purpose,
        idempotency_key=idempotency_key,
        origin=Message.Origin.AGENT,
        origin_ref=f"conversation #{conversation.number}",
        actor=actor,
        reply_to=last_inbound,
        sent_by=SentBy.PERSON,
        send_at=send_at,
        now=now,
    )
    if getattr(message, "replayed", False):
        return message  # the same idempotency key again: nothing new
    Reply.objects.create(
        workspace_id=conversation.workspace_id,
        conversation=conversation,
        message=message,
        author=actor.user if actor.kind == "user" else None,
        created_at=now,
    )
    updates = {"last_message_at": now, "updated_at": now}
    if message.status != Message.Status.BLOCKED:
        updates["waiting_since"] = None
        Conversation.objects.filter(pk=conversation.pk, first_response_at__isnull=True).update(
            first_response_at=now
        )
    Conversation.objects.filter(pk=conversation.pk).update(**updates)
    conversation.refresh_from_db(fields=["last_message_at", "waiting_since", "first_response_at"])
    if actor.kind == "user":  # their own reply is nothing new to them
        from .conversations import conversation_mark_read

        conversation_mark_read(user=actor.user, conversation=conversation, at=now)
    audit_record(
        workspace=conversation.workspace,
        actor=actor,
        action="inbox.reply.sent",
        target=conversation,
        data={
            "message_id": message.pk,
            "kind": kind,
            "status": message.status,
            "scheduled": send_at is not None,
        },
        at=now,
    )
    live.conversation_changed(conversation, "message", message_id=message.pk)
    return message


@transaction.atomic
def reply_retry(
    *, actor: Actor, conversation: Conversation, message: Message, now: dt.datetime | None = None
) -> Message:
    """Send a failed or blocked reply again as a new message (the same content and channel),
    through the pipeline. Never one whose outcome is unknown: it may have reached the phone."""
    if message.contact_id != conversation.contact_id or message.direction != Message.Direction.OUTBOUND:
        raise ValidationError({"message": ["Not a reply in this conversation."]})
    if message.status not in RETRY_SAFE:
        raise ValidationError(
            {
                "message": [
                    f"A {message.get_status_display().lower()} message is not sent again (it may have arrived)."
                ]
            }
        )
    content = message.content or {}
    template = content.get("template") or {}
    return reply_send(
        actor=actor,
        conversation=conversation,
        channel_kind=message.kind,
        text=content.get("text", "") if not template else content.get("text", ""),
        template=template.get("name"),
        variables=template.get("variables"),
        media_url=content.get("media_url", ""),
        purpose=message.purpose or Purpose.TRANSACTIONAL,
        now=now,
    )
