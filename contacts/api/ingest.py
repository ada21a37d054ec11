"""Event ingestion for the API, single or in batches: every event is checked before any is
written, then all are recorded in one transaction through `contacts.services.event_record`
(which also emits each on the bus), so a request either records everything or nothing.

A contact is named by `{"id": ...}`, `{"external_id": ...}` or `{"phone": ...}`. An id must exist
in the workspace. An external id or phone that no contact has yet creates the contact
("identify on track", as Segment does), through `contact_create`, so it is audited and appears
on open contact lists."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from contacts.models import Contact, Event
from contacts.services import IdempotencyConflict, contact_create, event_record
from contacts.validation import normalize_phone
from cpaas.models import Workspace
from cpaas.tenancy import Actor

MAX_BATCH = 1000

# An error of one event: field path (e.g. "contact.id") -> messages.
Errors = dict[str, list[str]]


class EventsRejected(Exception):
    """Some events are invalid; nothing was written. `errors` maps index -> field -> messages;
    `conflict` is true when every error is a reused idempotency key (a 409 rather than a 400)."""

    def __init__(self, errors: dict[int, Errors], conflicts: set[int]):
        super().__init__("events rejected")
        self.errors = dict(sorted(errors.items()))
        self.conflict = all(
            index in conflicts and set(item) == {"idempotency_key"} for index, item in self.errors.items()
        )

    def as_validation_error(self, key) -> ValidationError:
        """One ValidationError with flat field paths; `key(index, field)` names each path."""
        fields = {key(i, f): msgs for i, item in self.errors.items() for f, msgs in item.items()}
        return IdempotencyConflict(fields) if self.conflict else ValidationError(fields)


@dataclass
class EventResult:
    index: int
    event: Event
    created: bool
    contact_created: bool


def _signature(contact_key, name, properties) -> tuple:
    return contact_key, name, json.dumps(properties or {}, sort_keys=True, default=str)


def events_ingest(
    *, workspace: Workspace, actor: Actor, items: list[dict | None], errors: dict[int, Errors] | None = None
) -> list[EventResult]:
    """Record `items` (EventInputSerializer.validated_data) or raise EventsRejected writing
    nothing. `errors` holds errors the caller found already (its item is None); the other items
    are still checked so the rejection lists every problem. Items whose idempotency key was seen
    (before, or earlier in the same batch, with the same content) return the first event with
    created=False."""
    errors = defaultdict(dict, errors or {})
    conflicts: set[int] = set()  # indexes with a reused idempotency key

    # 1. Resolve every contact reference to a key: ("pk", id), ("external_id", x) or ("phone", e164).
    keys: list[tuple | None] = []
    for index, item in enumerate(items):
        if item is None:
            keys.append(None)
            continue
        (kind, value), *_ = item["contact"].items()
        if kind == "phone":
            try:
                value = normalize_phone(value, workspace.default_country)
            except ValueError as exc:
                errors[index]["contact.phone"] = [str(exc)]
                keys.append(None)
                continue
        elif kind == "external_id":
            value = value.strip()
        keys.append(("pk" if kind == "id" else kind, value))

    def lookup(kind: str, field: str) -> dict:
        wanted = {k[1] for k in keys if k and k[0] == kind}
        if not wanted:
            return {}
        rows = Contact.objects.filter(workspace=workspace, **{f"{field}__in": wanted})
        return {(kind, getattr(c, field)): c for c in rows}

    contacts: dict[tuple, Contact] = {
        **lookup("pk", "pk"),
        **lookup("external_id", "external_id"),
        **lookup("phone", "phone"),
    }
    for index, key in enumerate(keys):
        if key and key[0] == "pk" and key not in contacts:
            errors[index]["contact.id"] = [f"Contact {key[1]} not found in this workspace."]

    # 2. Idempotency keys: a key used before (or earlier in this batch) must be the same event.
    first_use: dict[str, tuple[int, tuple]] = {}
    used = {item.get("idempotency_key") for item in items if item} - {None, ""}
    existing = (
        {e.idempotency_key: e for e in Event.objects.filter(workspace=workspace, idempotency_key__in=used)}
        if used
        else {}
    )
    for index, item in enumerate(items):
        if keys[index] is None:  # invalid already
            continue
        idem = item.get("idempotency_key")
        if not idem:
            continue
        contact = contacts.get(keys[index])
        if idem in existing:
            event = existing[idem]
            if (
                contact is None
                or event.contact_id != contact.pk
                or event.name != item["name"]
                or event.properties != (item.get("properties") or {})
            ):
                conflicts.add(index)
                errors[index]["idempotency_key"] = [
                    f"Already used for a different event (#{event.pk}, '{event.name}' for contact "
                    f"{event.contact_id}). Use a new key for a new event."
                ]
        elif idem in first_use:
            first_index, signature = first_use[idem]
            if signature != _signature(keys[index], item["name"], item.get("properties")):
                conflicts.add(index)
                errors[index]["idempotency_key"] = [
                    f"Also used by events[{first_index}] for a different event. Use a new key for each event."
                ]
        else:
            first_use[idem] = (index, _signature(keys[index], item["name"], item.get("properties")))
    if errors:
        raise EventsRejected(errors, conflicts)

    # 3. Write everything in one transaction; an error here (a concurrent writer) undoes it all.
    results: list[EventResult] = []
    with transaction.atomic():
        created_keys: set[tuple] = set()
        for index, key in enumerate(keys):
            if key in contacts:
                continue
            try:
                contacts[key] = contact_create(workspace=workspace, actor=actor, data={key[0]: key[1]})
                created_keys.add(key)
            except ValidationError as exc:
                found = Contact.objects.filter(workspace=workspace, **{key[0]: key[1]}).first()
                if found is None:
                    errors[index].update({f"contact.{f}": m for f, m in _messages(exc).items()})
                else:  # created by a concurrent request meanwhile
                    contacts[key] = found
        for index, item in enumerate(items):
            contact = contacts.get(keys[index])
            if contact is None:
                continue
            replayed = existing.get(item.get("idempotency_key"))
            if replayed is not None:  # checked above: the same event, already recorded
                results.append(EventResult(index, replayed, False, False))
                continue
            try:
                event, created = event_record(
                    workspace=workspace,
                    contact=contact,
                    name=item["name"],
                    properties=item.get("properties") or {},
                    occurred_at=item.get("occurred_at"),
                    source="api",
                    idempotency_key=item.get("idempotency_key") or None,
                )
            except ValidationError as exc:
                if isinstance(exc, IdempotencyConflict):
                    conflicts.add(index)
                errors[index].update(_messages(exc))
                continue
            results.append(EventResult(index, event, created, keys[index] in created_keys))
        if errors:
            raise EventsRejected(errors, conflicts)
    return results


def _messages(exc: ValidationError) -> Errors:
    return exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
