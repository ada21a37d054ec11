"""The inbound pipeline, after the webhook's signature is verified and its payload normalised:
contact found or created by address → message stored once (a replayed webhook dedupes on the
provider's id) → consent keywords first (STOP / START / HELP, the reply sent) → the WhatsApp
window hook → an Event `message.received` for the apps above (journeys, inbox)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.services import event_record
from cpaas.tenancy import Actor

from .. import consent_gate, live
from ..addresses import contact_find_or_create, normalize_address
from ..models import Channel, Message, MessageStatusEvent
from ..providers import get_provider
from ..providers.base import Inbound, MalformedPayload
from .messages import message_send

log = logging.getLogger(__name__)
TEXT_MAX = 10_000
S = Message.Status


@dataclass(frozen=True)
class InboundOutcome:
    message: Message
    created: bool  # False: a replay of a webhook already stored
    keyword: str = ""  # the consent action a keyword triggered ("stop", "start", "help")
    reply: Message | None = None


def _address(channel: Channel, raw: str) -> str:
    try:
        return normalize_address(channel.workspace, channel.kind, raw)
    except ValidationError as exc:
        raise MalformedPayload(f"Bad sender address: {exc.messages[0]}") from None


def _option_picked(channel: Channel, contact, text: str) -> dict | None:
    """A reply "2" to a message whose buttons went as numbered text means the second button."""
    if not text.strip().isdigit():
        return None
    last = (
        Message.objects.filter(
            workspace=channel.workspace,
            contact=contact,
            kind=channel.kind,
            direction=Message.Direction.OUTBOUND,
        )
        .exclude(status__in=[S.BLOCKED, S.FAILED])
        .order_by("-created_at", "-id")
        .values_list("content", flat=True)
        .first()
    )
    options = (last or {}).get("text_options") or []
    index = int(text.strip()) - 1
    return options[index] if 0 <= index < len(options) else None


@transaction.atomic
def inbound_receive(*, channel: Channel, inbound: Inbound, now: dt.datetime | None = None) -> InboundOutcome:
    now = now or timezone.now()
    at = inbound.received_at or now
    if timezone.is_naive(at):
        at = timezone.make_aware(at, dt.UTC)
    existing = Message.objects.filter(
        channel=channel, provider_message_id=inbound.provider_message_id
    ).first()
    if existing is not None:
        return InboundOutcome(existing, created=False)
    if len(inbound.text) > TEXT_MAX:
        raise MalformedPayload(f"The text is longer than {TEXT_MAX:,} characters.")
    address = _address(channel, inbound.from_address)
    contact, _ = contact_find_or_create(
        channel.workspace, channel.kind, address, Actor.system("inbound message")
    )
    content = {"text": inbound.text}
    if inbound.media_urls:
        content["media_urls"] = list(inbound.media_urls)
    if inbound.digits:
        content["digits"] = inbound.digits
    button = (
        {"id": inbound.button_id} if inbound.button_id else _option_picked(channel, contact, inbound.text)
    )
    if button:
        content["button"] = button
    if inbound.profile_name:
        content["profile_name"] = inbound.profile_name[:200]
    message = Message(
        workspace=channel.workspace,
        contact=contact,
        channel=channel,
        kind=channel.kind,
        direction=Message.Direction.INBOUND,
        address=address,
        text=inbound.text or inbound.digits,
        content=content,
        purpose="",
        origin=Message.Origin.CONTACT,
        status=S.RECEIVED,
        status_changed_at=now,
        created_at=at,
        provider_message_id=inbound.provider_message_id[:100],
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:  # the same webhook, concurrently
        return InboundOutcome(
            Message.objects.get(channel=channel, provider_message_id=inbound.provider_message_id),
            created=False,
        )
    MessageStatusEvent.objects.create(message=message, status=S.RECEIVED, at=now, source="webhook")

    # consent keywords first: STOP changes consent before anything else sees the message
    keyword = consent_gate.keyword_handle(
        contact=contact,
        kind=channel.kind,
        text=inbound.text,
        at=at,
        inbound_message_id=f"{channel.pk}:{inbound.provider_message_id}"[:120],
        payload=inbound.button_id,
    )
    reply = None
    if keyword.handled:
        message.content["keyword"] = keyword.action
        Message.objects.filter(pk=message.pk).update(content=message.content)
        if keyword.reply and not keyword.duplicate:
            reply = message_send(
                workspace=channel.workspace,
                contact=contact,
                channel=channel,
                content={"text": keyword.reply},
                purpose="transactional",
                origin=Message.Origin.SYSTEM,
                origin_ref=f"keyword {keyword.keyword}",
                idempotency_key=f"keyword-reply:{message.pk}",
                reply_to=message,
                consent_exempt=f"keyword.{keyword.action}",
                now=now,
            )
    consent_gate.inbound_recorded(contact, channel.kind, at)  # the WhatsApp 24-hour window
    event_record(
        workspace=channel.workspace,
        contact=contact,
        name="message.received",
        properties={
            "message_id": message.pk,
            "channel_id": channel.pk,
            "channel": channel.kind,
            "text": inbound.text[:2000],
            "button": (button or {}).get("id", ""),
            "digits": inbound.digits,
            "keyword": keyword.action if keyword.handled else "",
        },
        occurred_at=at,
        source="inbound",
        idempotency_key=f"message.received:{message.pk}",
        now=now,
    )
    if get_provider(channel.provider).simulator:
        live.simulator_messages(channel.workspace_id, [message])
    return InboundOutcome(
        message, created=True, keyword=keyword.action if keyword.handled else "", reply=reply
    )
