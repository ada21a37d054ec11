"""Conversations for the panel, supervisor and settings tests, written directly (the inbox's own
services are tested in their own files)."""

import itertools

from django.utils import timezone

from inbox.models import Conversation, Queue, QueueMember

_numbers = itertools.count(1000)


def queue(workspace, name="collections", members=(), **fields):
    q, _ = Queue.objects.get_or_create(workspace=workspace, name=name, defaults=fields)
    for user in members:
        QueueMember.objects.get_or_create(queue=q, user=user)
    return q


def conversation(workspace, contact, q, *, number=None, now=None, **fields):
    now = now or timezone.now()
    fields.setdefault("opened_at", now)
    fields.setdefault("created_at", now)
    return Conversation.objects.create(
        workspace=workspace, number=number or next(_numbers), contact=contact, queue=q, **fields
    )
