"""What the inbox holds about a person, for GDPR export and erasure through cpaas.gdpr: their
conversations with every activity entry and private note, which agent sent which reply, and
read markers. The messages themselves are channels_app's (exported and erased there)."""

from __future__ import annotations

from cpaas.gdpr import Subject, register

from .models import CannedReply, Conversation, Entry, ReadMarker, Reply

CONVERSATION_FIELDS = ("id", "number", "status", "priority", "queue__name", "opened_at", "first_response_at",
                       "resolved_at", "disposition", "needs_review", "review_reason", "handoff_journey_id",
                       "handoff_node", "created_at")  # fmt: skip
ENTRY_FIELDS = ("conversation_id", "kind", "author__username", "body", "data", "created_at")


def export(contact) -> dict:
    return {
        "conversations": list(
            Conversation.objects.filter(contact=contact)
            .order_by("created_at", "id")
            .values(*CONVERSATION_FIELDS)
        ),
        "entries": list(
            Entry.objects.filter(conversation__contact=contact)
            .order_by("created_at", "id")
            .values(*ENTRY_FIELDS)
        ),
        "replies": list(
            Reply.objects.filter(conversation__contact=contact)
            .order_by("created_at", "id")
            .values("conversation_id", "message_id", "author__username", "created_at")
        ),
    }


def erase(subject: Subject) -> dict:
    conversations = Conversation.objects.filter(contact=subject.contact)
    subject.rows_erased(Conversation, conversations.values_list("pk", flat=True))
    counts = conversations.delete()[1]  # entries, replies and read markers go with them
    return {
        "conversations": counts.get(Conversation._meta.label, 0),
        "entries": counts.get(Entry._meta.label, 0),
        "replies": counts.get(Reply._meta.label, 0),
        "read_markers": counts.get(ReadMarker._meta.label, 0),
    }


register(
    "inbox",
    export=export,
    erase=erase,
    covers=[Conversation, Entry, Entry.mentions.through, Reply, ReadMarker],
    not_personal={CannedReply: "a workspace's saved answer with merge fields, written for every contact"},
)
