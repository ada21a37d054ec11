"""What the contacts app holds about a person (profile, attributes, tags, events, their lines in
stored CSV uploads), for GDPR export and erasure through cpaas.gdpr. Its eraser runs after every
app above it and deletes the contact row; it also names the person's identifiers for every
eraser's matching."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError

from cpaas.gdpr import Subject, register
from cpaas.realtime import publish, workspace_group

from .imports import csv_blank_records
from .models import Contact, ContactImport, Event, Segment

PROFILE_FIELDS = ("id", "external_id", "first_name", "last_name", "phone", "email", "language", "timezone",
                  "preferred_channel", "addresses", "is_vulnerable", "vulnerability_note", "created_at",
                  "updated_at")  # fmt: skip


def identifiers(contact: Contact) -> dict:
    addresses = [str(v) for v in (contact.addresses or {}).values() if v]
    return {
        "strong": [contact.phone or "", contact.email or "", contact.external_id or "", *addresses],
        "names": [contact.first_name, contact.last_name, contact.full_name],
    }


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


def _line_is_theirs(subject: Subject, headers: list[str], external_id_columns: list[str]):
    """A line is the person's when a cell is one of their identifiers (in any written form) or
    mentions one, or an external-id column holds their external id (however short it is)."""
    external_id = (subject.contact.external_id or "").strip()
    positions = [headers.index(c) for c in external_id_columns if c in headers]

    def is_theirs(cells: list[str]) -> bool:
        if external_id and any(p < len(cells) and cells[p].strip() == external_id for p in positions):
            return True
        return any(subject.is_identifier(cell) or subject.mentions(cell) for cell in cells)

    return is_theirs


def uploads_scrub(
    subject: Subject,
    uploads,
    *,
    encoding: Callable[[object], str],
    external_id_columns: Callable[[object], list],
    busy: Callable[[object], bool],
) -> int:
    """Blank the person's lines in stored CSV uploads (`uploads`: a queryset of rows with
    `content`, `headers`, `errors`, `failure_reason` and `filename`), and drop the kept row errors
    of those lines and any other error that quotes them. Shared with the consent import.

    A `busy` upload (its worker has read the file and will write rows and errors from memory)
    that lists the person refuses the whole erasure: it would bring them back."""
    changed = 0
    external_id = (subject.contact.external_id or "").strip()
    for upload in uploads.iterator():
        content, codec = bytes(upload.content), encoding(upload)
        # a quick look before parsing: most uploads are not theirs
        text = content.decode("utf-8" if codec in ("utf-8", "utf-8-sig") else codec, errors="replace")
        if not (
            subject.mentions(text) or (external_id and external_id in text) or subject.mentions(upload.errors)
        ):
            continue
        is_theirs = _line_is_theirs(subject, list(upload.headers or []), external_id_columns(upload))
        content, lines = csv_blank_records(content, codec, is_theirs)
        if lines and busy(upload):
            raise ValidationError(
                {
                    "__all__": [
                        f"The import of '{upload.filename}' lists this person and is running now: "
                        "erase them once it has finished."
                    ]
                }
            )
        gone = set(lines)
        errors = [e for e in upload.errors if e.get("line") not in gone and not subject.mentions(e)]
        type(upload).objects.filter(pk=upload.pk).update(
            content=content,
            errors=errors,
            failure_reason=subject.scrub(upload.failure_reason),
            filename=subject.scrub(upload.filename),
        )
        changed += 1
    return changed


def erase(subject: Subject) -> dict:
    contact = subject.contact
    event_ids = list(Event.objects.filter(contact=contact).values_list("pk", flat=True))
    subject.rows_erased(Event, event_ids)
    Event.objects.filter(pk__in=event_ids).delete()
    imports = uploads_scrub(
        subject,
        ContactImport.objects.filter(workspace_id=subject.workspace_id),
        encoding=lambda upload: upload.encoding,
        external_id_columns=lambda upload: [
            c for c, f in (upload.mapping or {}).items() if f == "external_id"
        ],
        busy=lambda upload: upload.status in (ContactImport.Status.VALIDATING, ContactImport.Status.WRITING),
    )
    # A segment rule that names them ("email is ...") would match no one now: keep the rule,
    # without the value.
    segments = [
        (pk, definition)
        for pk, definition in Segment.objects.filter(workspace_id=subject.workspace_id).values_list(
            "pk", "definition"
        )
        if subject.mentions(definition)
    ]
    for pk, definition in segments:
        Segment.objects.filter(pk=pk).update(definition=subject.scrub(definition))
    contact_id, workspace_id = contact.pk, contact.workspace_id
    contact.tags.clear()
    contact.delete()
    publish(workspace_group(workspace_id, "contacts"), {"type": "contact.deleted", "id": contact_id})
    return {
        "contact": 1,
        "events": len(event_ids),
        "imports_scrubbed": imports,
        "segments_scrubbed": len(segments),
    }


register(
    "contacts",
    export=export,
    erase=erase,
    covers=[Contact, Contact.tags.through, Event],
    copies=[ContactImport, Segment],
    identifiers=identifiers,
)
