"""Event ingestion for the API, single or in batches: every event is checked before any is
written, then all are recorded in one transaction, so a request either records everything or
nothing. It works in sets whatever the size: contacts are looked up and created with one query
per kind, events go in with one multi-row insert, and the bus gets the batch at once
(`cpaas.bus.emit_many`: the journey engine enrols the batch with a few queries, and a
subscriber that takes one event at a time still sees each event once).

A contact is named by `{"id": ...}`, `{"external_id": ...}` or `{"phone": ...}`. An id must exist
in the workspace. An external id or phone that no contact has yet creates the contact
("identify on track", as Segment does), through `contact_clean`'s rules, with an audit entry
each and one realtime notice for the batch (an open contact list refreshes once)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import Contact, Event
from contacts.services import IdempotencyConflict, _event_clean, contacts_changed_publish
from contacts.validation import contact_clean, normalize_phone
from cpaas import backlog, bus
from cpaas.audit import audit_record_many
from cpaas.bulk import insert_rows
from cpaas.models import Workspace
from cpaas.tenancy import Actor

MAX_BATCH = 10_000

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
    *,
    workspace: Workspace,
    actor: Actor,
    items: list[dict | None],
    errors: dict[int, Errors] | None = None,
    retry: bool = True,
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

    # 3. Write everything in one transaction, in sets; a concurrent writer of the same
    # idempotency key makes the insert fail: the whole batch is checked again (it is now a replay
    # or a conflict) rather than half-written.
    try:
        return _write(workspace, actor, items, keys, contacts, existing, errors, conflicts)
    except IntegrityError:
        if not retry:
            raise
        return events_ingest(workspace=workspace, actor=actor, items=items, retry=False)


def _write(workspace, actor, items, keys, contacts, existing, errors, conflicts) -> list[EventResult]:
    now = timezone.now()
    with transaction.atomic():
        created_keys = _contacts_create(workspace, actor, keys, contacts, errors)
        results: list[EventResult | None] = [None] * len(items)
        fresh: list[Event] = []
        first_event: dict[str, int] = {}  # idempotency key -> index of its first item
        for index, item in enumerate(items):
            contact = contacts.get(keys[index])
            if contact is None:
                continue
            idem = item.get("idempotency_key") or None
            replayed = existing.get(idem)
            if replayed is not None:  # checked above: the same event, already recorded
                results[index] = EventResult(index, replayed, False, False)
                continue
            if idem in first_event:  # the same event twice in this batch (checked above)
                continue
            try:
                name, properties, occurred_at = _event_clean(
                    item["name"], item.get("properties"), item.get("occurred_at"), now
                )
            except ValidationError as exc:
                errors[index].update(_messages(exc))
                continue
            # ids, not objects: the foreign-key descriptors cost more than the rest of the row
            event = Event(workspace_id=workspace.pk, contact_id=contact.pk, name=name, properties=properties,
                          occurred_at=occurred_at, source="api", idempotency_key=idem)  # fmt: skip
            event._state.fields_cache.update(workspace=workspace, contact=contact)  # no query to read them
            fresh.append(event)
            if idem:
                first_event[idem] = index
            results[index] = EventResult(index, event, True, keys[index] in created_keys)
        if errors:
            raise EventsRejected(errors, conflicts)
        insert_rows(Event, fresh)
        for index, item in enumerate(items):
            if results[index] is None:  # a later copy of an event of this batch
                first = results[first_event[item["idempotency_key"]]]
                results[index] = EventResult(index, first.event, False, first.contact_created)
        # every subscriber sees every event once; the engine enrols the batch as a set
        bus.emit_many(fresh)
    return results


def _contacts_create(workspace, actor, keys, contacts, errors) -> set[tuple]:
    """Create the contacts named by external id or phone that none has yet, in one insert.
    Returns the keys created.
    Each new contact gets its audit entry; open contact lists get one notice for them all."""
    missing: dict[tuple, int] = {}  # key -> index of its first item
    for index, key in enumerate(keys):
        if key and key not in contacts and key not in missing:
            missing[key] = index
    if not missing:
        return set()
    rows = []
    for key, index in missing.items():
        try:
            clean = contact_clean(workspace=workspace, data={key[0]: key[1]}, definitions={})
        except ValidationError as exc:
            errors[index].update({f"contact.{f}": m for f, m in _messages(exc).items()})
            continue
        contact = Contact(workspace_id=workspace.pk)
        contact._state.fields_cache["workspace"] = workspace
        for field, value in clean.items():
            setattr(contact, field, value)
        rows.append(contact)
    if errors:
        return set()
    # a contact created meanwhile by a concurrent request makes this insert fail (unique phone or
    # external id): the whole batch is checked again and finds it (events_ingest's retry)
    insert_rows(Contact, rows)
    created = {}
    for contact in rows:
        key = ("external_id", contact.external_id) if contact.external_id else ("phone", contact.phone)
        contacts[key] = created[key] = contact
    audit_record_many(
        workspace=workspace, actor=actor, action="contacts.contact.created", targets=list(created.values())
    )
    contacts_changed_publish(workspace=workspace, created=list(created.values()))
    return set(created)


def engine_lag_s(*, workspace: Workspace) -> float:
    """The backlog behind the API: how long the oldest due journey step has waited. The API
    keeps accepting when the engine is behind (events and enrolments are rows); it says so."""
    return backlog.lag_s(workspace.pk)


def _messages(exc: ValidationError) -> Errors:
    return exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
