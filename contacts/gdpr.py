"""What the contacts app holds about a person (profile, attributes, tags, events), for GDPR
export and erasure through cpaas.gdpr. Its eraser runs last and deletes the contact row."""

from __future__ import annotations

from cpaas.gdpr import register_eraser, register_exporter
from cpaas.realtime import publish, workspace_group

from .models import Contact, Event

PROFILE_FIELDS = ("id", "external_id", "first_name", "last_name", "phone", "email", "language", "timezone",
                  "preferred_channel", "addresses", "is_vulnerable", "vulnerability_note", "created_at",
                  "updated_at")  # fmt: skip


def export(contact: Contact) -> dict:
    return {
        "profile": {field: getattr(contact, field) for field in PROFILE_FIELDS},
        "attributes": dict(contact.attributes),
        "tags": sorted(contact.tags.values_list("name", flat=True)),
        "events": list(
            Event.objects.filter(contact=contact)
            .order_by("occurred_at", "id")
            .values("name", "properties", "occurred_at", "received_at", "source")
        ),
    }


def erase(contact: Contact, actor) -> dict:
    events, _ = Event.objects.filter(contact=contact).delete()
    contact_id, workspace_id = contact.pk, contact.workspace_id
    contact.tags.clear()
    contact.delete()
    publish(workspace_group(workspace_id, "contacts"), {"type": "contact.deleted", "id": contact_id})
    return {"contact": 1, "events": events}


register_exporter("contacts", export)
register_eraser("contacts", erase)
