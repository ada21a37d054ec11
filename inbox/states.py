"""Delivery states live in the inbox: when the states of people's messages change (sent,
delivered, read, failed, in the dispatcher or on a receipt: the bus notice "message.states" from
channels_app.live), every open conversation with those contacts is announced as changed, and
the pages showing it fetch the new state (inbox/live.py, static/js/inbox.js)."""

from __future__ import annotations

from . import live
from .models import Conversation


def on_message_states(notice) -> None:
    conversations = Conversation.objects.filter(
        workspace_id=notice.workspace_id, contact_id__in=notice.contact_ids
    ).exclude(status=Conversation.Status.RESOLVED)
    for conversation in conversations.only("pk"):
        live.conversation_changed(conversation, "message_status")
