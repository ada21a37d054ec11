"""Who is looking at a conversation: each open inbox page says "viewing" every few seconds,
"typing" while its agent writes, "left" when it closes. Nothing is stored: the pages keep what
they hear for a few seconds (static/js/inbox.js), which is all a collision warning needs."""

from __future__ import annotations

import uuid

from django.utils import timezone

from cpaas.realtime import publish

from .live import _groups

STATES = ("viewing", "typing", "left")


def announce(*, conversation, user, state: str) -> None:
    """Tell everyone who may see `conversation` (the same groups as its changes) what `user` does."""
    event = {
        "type": "inbox.presence",
        "event_id": uuid.uuid4().hex,
        "number": conversation.number,
        "user": user.pk,
        "name": user.get_full_name() or user.get_username(),
        "state": state,
        "at": timezone.now().isoformat(),
    }
    for group in _groups(conversation):
        publish(group, event)
