"""Writes for contacts, tags, attributes, segments and events. Each is one transaction that
also writes its audit entry."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from cpaas import bus
from cpaas.audit import audit_record
from cpaas.models import Workspace
from cpaas.realtime import publish, workspace_group
from cpaas.tenancy import Actor

from .models import AttributeDefinition, Contact, Event, Segment, Tag
from .segments import segment_definition_clean
from .validation import contact_clean

UNIQUE_FIELD_MESSAGES = {
    "contact_unique_phone": ("phone", "Another contact already has this phone number."),
    "contact_unique_external_id": ("external_id", "Another contact already has this external id."),
}


def _unique_clash(workspace: Workspace, clean: dict, exclude_pk: int | None) -> None:
    """Say which unique field clashes before the database does (a clear field error)."""
    errors = {}
    others = Contact.objects.filter(workspace=workspace).exclude(pk=exclude_pk)
    if clean.get("phone") and others.filter(phone=clean["phone"]).exists():
        errors["phone"] = [UNIQUE_FIELD_MESSAGES["contact_unique_phone"][1]]
    if clean.get("external_id") and others.filter(external_id=clean["external_id"]).exists():
        errors["external_id"] = [UNIQUE_FIELD_MESSAGES["contact_unique_external_id"][1]]
    if errors:
        raise ValidationError(errors)


def tags_ensure(*, workspace: Workspace, names: list[str]) -> list[Tag]:
    if not names:
        return []
    existing = {t.name: t for t in Tag.objects.filter(workspace=workspace, name__in=names)}
    missing = [Tag(workspace=workspace, name=n) for n in names if n not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.name: t for t in Tag.objects.filter(workspace=workspace, name__in=names)}
    return [existing[n] for n in names]


def _apply(contact: Contact, clean: dict) -> None:
    for field, value in clean.items():
        if field == "tags":
            continue
        if field == "attributes":
            merged = {**contact.attributes, **value}
            contact.attributes = {k: v for k, v in merged.items() if v is not None}
        elif field == "addresses":
            contact.addresses = value
        else:
            setattr(contact, field, value)


def contact_row_html(contact: Contact) -> str:
    return render_to_string("contacts/_row.html", {"contact": contact})


def _publish_contact(contact: Contact, kind: str) -> None:
    publish(
        workspace_group(contact.workspace_id, "contacts"),
        {"type": kind, "id": contact.pk, "html": contact_row_html(contact)},
    )


def contacts_changed_publish(
    *, workspace: Workspace, created: list[Contact] = (), updated: list[Contact] = ()
) -> None:
    """What open contact lists hear when a batch writes contacts: one contact as its row (placed
    as any single write is), several as ONE `contacts.changed` notice that makes a list refresh
    once (a batch of 10,000 must not push 10,000 rows to every browser)."""
    if len(created) + len(updated) == 1:
        for contact, kind in [
            *((c, "contact.created") for c in created),
            *((c, "contact.updated") for c in updated),
        ]:
            _publish_contact(contact, kind)
    elif created or updated:
        publish(
            workspace_group(workspace.pk, "contacts"),
            {"type": "contacts.changed", "created": len(created), "updated": len(updated)},
        )


@transaction.atomic
def contact_create(*, workspace: Workspace, actor: Actor, data: dict) -> Contact:
    clean = contact_clean(workspace=workspace, data=data)
    _unique_clash(workspace, clean, exclude_pk=None)
    contact = Contact(workspace=workspace)
    _apply(contact, clean)
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError as exc:  # a concurrent writer won the race
        raise _integrity_to_validation(exc) from None
    if clean.get("tags"):
        contact.tags.set(tags_ensure(workspace=workspace, names=clean["tags"]))
    audit_record(workspace=workspace, actor=actor, action="contacts.contact.created", target=contact)
    _publish_contact(contact, "contact.created")
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, actor: Actor, data: dict) -> Contact:
    clean = contact_clean(workspace=contact.workspace, data=data, partial=True)
    _unique_clash(contact.workspace, clean, exclude_pk=contact.pk)
    before = {f: getattr(contact, f) for f in clean if f != "tags"}
    _apply(contact, clean)
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError as exc:
        raise _integrity_to_validation(exc) from None
    if "tags" in clean:
        contact.tags.set(tags_ensure(workspace=contact.workspace, names=clean["tags"]))
    changed = sorted(f for f in clean if f == "tags" or before.get(f) != getattr(contact, f))
    audit_record(
        workspace=contact.workspace,
        actor=actor,
        action="contacts.contact.updated",
        target=contact,
        data={"fields": changed},
    )
    _publish_contact(contact, "contact.updated")
    return contact


@transaction.atomic
def contact_vulnerability_set(*, contact: Contact, actor: Actor, vulnerable: bool, note: str) -> Contact:
    """Flag (or clear) a customer as vulnerable, with what they said or what was seen (FCA FG21/1:
    record the customer's needs so everyone who deals with them knows). The note is required
    both ways; the audit entry keeps it, so the flag's history survives later edits of the note."""
    note = (note or "").strip()
    if not note:
        raise ValidationError(
            {"vulnerability_note": ["Say why: what the customer told you or what you noticed."]}
        )
    contact = contact_update(
        contact=contact, actor=actor, data={"is_vulnerable": vulnerable, "vulnerability_note": note}
    )
    audit_record(
        workspace=contact.workspace,
        actor=actor,
        action="contacts.vulnerability.flagged" if vulnerable else "contacts.vulnerability.cleared",
        target=contact,
        data={"note": contact.vulnerability_note},
    )
    return contact


def contact_upsert(
    *, workspace: Workspace, actor: Actor, external_id: str, data: dict
) -> tuple[Contact, bool]:
    """Create or update the contact with this external id. Returns (contact, created)."""
    if not external_id or not str(external_id).strip():
        raise ValidationError({"external_id": ["Required to upsert."]})
    with transaction.atomic():
        existing = (
            Contact.objects.select_for_update().filter(workspace=workspace, external_id=external_id).first()
        )
        if existing:
            return contact_update(contact=existing, actor=actor, data=data), False
        return contact_create(
            workspace=workspace, actor=actor, data={**data, "external_id": external_id}
        ), True


@transaction.atomic
def contact_delete(*, contact: Contact, actor: Actor) -> None:
    audit_record(
        workspace=contact.workspace,
        actor=actor,
        action="contacts.contact.deleted",
        target=contact,
        data={"external_id": contact.external_id},
    )
    publish(workspace_group(contact.workspace_id, "contacts"), {"type": "contact.deleted", "id": contact.pk})
    contact.delete()


def _integrity_to_validation(exc: IntegrityError) -> ValidationError:
    text = str(exc)
    for name, (field, message) in UNIQUE_FIELD_MESSAGES.items():
        column = "phone" if "phone" in name else "external_id"
        if name in text or f"contacts_contact.{column}" in text:
            return ValidationError({field: [message]})
    return ValidationError(f"Could not save the contact: {text}")


# --- attributes -------------------------------------------------------------------------------


@transaction.atomic
def attribute_definition_create(*, workspace: Workspace, actor: Actor, key: str, label: str, type: str):
    if AttributeDefinition.objects.filter(workspace=workspace, key=key).exists():
        raise ValidationError({"key": [f"An attribute '{key}' already exists."]})
    if type not in AttributeDefinition.Type.values:
        raise ValidationError({"type": [f"Unknown type '{type}'."]})
    definition = AttributeDefinition.objects.create(
        workspace=workspace, key=key, label=label or key, type=type
    )
    audit_record(workspace=workspace, actor=actor, action="contacts.attribute.created", target=definition)
    return definition


# --- segments ---------------------------------------------------------------------------------


@transaction.atomic
def segment_save(
    *, workspace: Workspace, actor: Actor, name: str, definition: dict, description: str = "", segment=None
) -> Segment:
    name = (name or "").strip()
    errors = {}
    if not name:
        errors["name"] = ["Give the segment a name."]
    elif (
        Segment.objects.filter(workspace=workspace, name=name)
        .exclude(pk=getattr(segment, "pk", None))
        .exists()
    ):
        errors["name"] = [f"A segment called '{name}' already exists."]
    try:
        definition = segment_definition_clean(workspace=workspace, definition=definition)
    except ValidationError as exc:
        errors["definition"] = exc.messages
    if errors:
        raise ValidationError(errors)
    created = segment is None
    if created:
        segment = Segment(workspace=workspace, created_by=actor.user if actor.kind == "user" else None)
    segment.name, segment.description, segment.definition = name, description, definition
    segment.save()
    audit_record(
        workspace=workspace,
        actor=actor,
        action="contacts.segment.created" if created else "contacts.segment.updated",
        target=segment,
        data={"definition": definition},
    )
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment, actor: Actor) -> None:
    audit_record(workspace=segment.workspace, actor=actor, action="contacts.segment.deleted", target=segment)
    segment.delete()


# --- events -----------------------------------------------------------------------------------

EVENT_NAME_MAX = 100


class IdempotencyConflict(ValidationError):
    """The idempotency key was used before for a different event."""


def _event_clean(name, properties, occurred_at, now) -> tuple[str, dict, dt.datetime]:
    errors = {}
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        errors["name"] = ["Give the event a name, e.g. signup or payment_completed."]
    elif len(name) > EVENT_NAME_MAX:
        errors["name"] = [f"At most {EVENT_NAME_MAX} characters."]
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        errors["properties"] = ["Must be a JSON object."]
    if occurred_at is None:
        occurred_at = now
    elif timezone.is_naive(occurred_at):
        errors["occurred_at"] = ["Give a time zone (e.g. 2026-11-22T10:00:00Z)."]
    if errors:
        raise ValidationError(errors)
    return name, properties, occurred_at


@transaction.atomic
def event_record(
    *,
    workspace: Workspace,
    contact: Contact,
    name: str,
    properties: dict | None = None,
    occurred_at: dt.datetime | None = None,
    source: str = "api",
    idempotency_key: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[Event, bool]:
    """Record one event and emit it on the bus. Returns (event, created). The same
    idempotency key with the same content returns the first event; with different content it
    raises IdempotencyConflict."""
    now = now or timezone.now()
    name, properties, occurred_at = _event_clean(name, properties, occurred_at, now)
    if contact.workspace_id != workspace.pk:
        raise ValidationError({"contact": ["No such contact in this workspace."]})
    if idempotency_key:
        existing = Event.objects.filter(workspace=workspace, idempotency_key=idempotency_key).first()
        if existing:
            _check_same(existing, contact, name, properties)
            return existing, False
    event = Event(
        workspace=workspace,
        contact=contact,
        name=name,
        properties=properties,
        occurred_at=occurred_at,
        source=source,
        idempotency_key=idempotency_key or None,
    )
    try:
        with transaction.atomic():
            event.save()
    except IntegrityError:  # a concurrent request with the same key won
        existing = Event.objects.get(workspace=workspace, idempotency_key=idempotency_key)
        _check_same(existing, contact, name, properties)
        return existing, False
    bus.emit(event)
    return event, True


def _check_same(existing: Event, contact: Contact, name: str, properties: dict) -> None:
    if existing.contact_id != contact.pk or existing.name != name or existing.properties != properties:
        raise IdempotencyConflict(
            {
                "idempotency_key": [
                    f"Already used for a different event (#{existing.pk}, '{existing.name}' for contact "
                    f"{existing.contact_id}). Use a new key for a new event."
                ]
            }
        )
