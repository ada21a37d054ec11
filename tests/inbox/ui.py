"""Building blocks for the inbox page tests: queues with members and conversations with messages,
written straight to the models (the services are tested on their own)."""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from channels_app.models import Channel, Message
from inbox.models import Conversation, Queue, QueueMember
from tests.factories import ContactFactory

_numbers = itertools.count(1)


def queue(workspace, name: str, *members) -> Queue:
    q = Queue.objects.create(workspace=workspace, name=name, label=name.title())
    for user in members:
        QueueMember.objects.create(queue=q, user=user)
    return q


def conversation(workspace, q: Queue, *, contact=None, text: str = "", number: int | None = None, **fields):
    now = fields.pop("now", timezone.now())
    contact = contact or ContactFactory(workspace=workspace)
    number = number or (Conversation.objects.filter(workspace=workspace).count() + 1)
    kind = fields.pop("kind", "sms")
    c = Conversation.objects.create(
        workspace=workspace,
        number=number,
        contact=contact,
        queue=q,
        opened_at=now,
        created_at=now,
        last_message_at=now if text else None,
        last_inbound_kind=kind if text else "",
        last_inbound_at=now if text else None,
        waiting_since=fields.pop("waiting_since", now if text else None),
        **fields,
    )
    if text:
        inbound(c, text, kind=kind, at=now)
    return c


def inbound(c: Conversation, text: str, *, kind: str = "sms", at: dt.datetime | None = None) -> Message:
    at = at or timezone.now()
    channel = Channel.objects.filter(workspace_id=c.workspace_id, kind=kind).first()
    return Message.objects.create(
        workspace_id=c.workspace_id,
        contact=c.contact,
        channel=channel,
        kind=kind,
        direction=Message.Direction.INBOUND,
        address=c.contact.phone or c.contact.email,
        text=text,
        content={"text": text},
        status=Message.Status.RECEIVED,
        origin=Message.Origin.CONTACT,
        status_changed_at=at,
        created_at=at,
    )
