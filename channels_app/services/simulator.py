"""The phone simulator plays a contact on the sandbox channels. What the contact types goes
through the real inbound pipeline (a signed sandbox webhook, verified like any other); reading
a message sends the sandbox's "read" receipt through the status pipeline."""

from __future__ import annotations

import datetime as dt
import json
import secrets

from django.core.exceptions import ValidationError

from contacts.models import Contact

from ..addresses import contact_address, missing_address_reason
from ..models import Channel, Message
from ..providers import simulator_providers
from ..providers.base import WebhookRequest
from ..providers.sandbox import SIGNATURE_HEADER, sign

TEXT_MAX = 2000


def sandbox_channel(*, workspace, kind: str) -> Channel:
    channel = (
        Channel.objects.filter(
            workspace=workspace, kind=kind, provider__in=simulator_providers(), status=Channel.Status.ACTIVE
        )
        .order_by("pk")
        .first()
    )
    if channel is None:
        raise ValidationError({"kind": [f"No active sandbox {kind} channel (Channels → add or enable one)."]})
    return channel


def _signed(channel: Channel, payload: dict, kind: str) -> WebhookRequest:
    body = json.dumps(payload).encode()
    return WebhookRequest(
        method="POST",
        url=f"/webhooks/sandbox/{channel.webhook_token}/{kind}/",
        headers={SIGNATURE_HEADER: sign(channel.credentials.get("secret", ""), body)},
        body=body,
        form={},
        query={},
    )


def simulator_reply(
    *,
    workspace,
    contact: Contact,
    kind: str,
    text: str = "",
    button: str = "",
    digits: str = "",
    now: dt.datetime,
) -> Message:
    """The contact sends `text` (or presses `button`, or keys `digits` in a call) on `kind`."""
    from ..webhooks import inbound_process

    if contact.workspace_id != workspace.pk:
        raise ValidationError({"contact": ["No such contact in this workspace."]})
    text = (text or "").strip()
    digits = "".join(ch for ch in (digits or "") if ch.isdigit() or ch in "*#")[:20]
    if not (text or button or digits):
        raise ValidationError({"text": ["Type a reply."]})
    if len(text) > TEXT_MAX:
        raise ValidationError({"text": [f"At most {TEXT_MAX:,} characters."]})
    channel = sandbox_channel(workspace=workspace, kind=kind)
    address = contact_address(contact, kind)
    if not address:
        raise ValidationError({"kind": [missing_address_reason(contact, kind)]})
    payload = {
        "id": "sim-" + secrets.token_hex(8),
        "from": address,
        "to": channel.address,
        "text": text or digits,
        "button": button[:256],
        "digits": digits,
        "at": now.isoformat(),
    }
    outcomes = inbound_process(channel, _signed(channel, payload, "inbound"))
    return outcomes[0].message


def simulator_read(*, workspace, contact: Contact, kind: str) -> int:
    """The contact opened the conversation: a read receipt for what was delivered to them."""
    from ..webhooks import status_process

    ids = list(
        Message.objects.filter(
            workspace=workspace,
            contact=contact,
            kind=kind,
            channel__provider__in=simulator_providers(),
            direction=Message.Direction.OUTBOUND,
            status__in=[Message.Status.SENT, Message.Status.DELIVERED],
            provider_message_id__isnull=False,
        ).values_list("channel_id", "provider_message_id")[:200]
    )
    by_channel: dict[int, list[str]] = {}
    for channel_id, pid in ids:
        by_channel.setdefault(channel_id, []).append(pid)
    for channel in Channel.objects.filter(pk__in=by_channel):
        payload = {"statuses": [{"id": pid, "status": "read"} for pid in by_channel[channel.pk]]}
        status_process(channel, _signed(channel, payload, "status"))
    return len(ids)
