"""Contacts in bulk: create or update up to 10,000 contacts in one call, each found by its
external id (or, without one, its phone), with the same rules as every other writer
(`contact_clean`) and the same unique rules (phone and external id once per workspace).

Set-based: every item is cleaned first, the existing contacts are read with one query per
identifier kind, new ones go in with one multi-row insert, changed ones with one bulk update,
tags with one insert into the link table; an item whose values are already the contact's is
`unchanged` and not written. All-or-nothing (any invalid item: nothing written, every problem
named by position) or per item (the valid ones are written, the others reported)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cpaas.audit import audit_record_many
from cpaas.bulk import insert_rows, update_rows
from cpaas.models import Workspace
from cpaas.tenancy import Actor

from .models import AttributeDefinition, Contact
from .services import UNIQUE_FIELD_MESSAGES, _apply, contacts_changed_publish, tags_ensure
from .validation import contact_clean

MAX_CONTACTS = 10_000
Errors = dict[str, list[str]]


@dataclass
class Outcome:
    index: int
    status: str  # created, updated, unchanged, invalid
    contact: Contact | None = None
    errors: Errors = field(default_factory=dict)


class ContactsRejected(Exception):
    """All-or-nothing and some items are invalid: nothing was written. index -> field -> messages."""

    def __init__(self, errors: dict[int, Errors]):
        super().__init__("contacts rejected")
        self.errors = dict(sorted(errors.items()))

    def as_validation_error(self) -> ValidationError:
        return ValidationError(
            {f"contacts[{i}].{f}": msgs for i, item in self.errors.items() for f, msgs in item.items()}
        )


def contacts_upsert_many(
    *,
    workspace: Workspace,
    actor: Actor,
    items: list[dict | None],
    errors: dict[int, Errors] | None = None,
    all_or_nothing: bool = True,
    retry: bool = True,
) -> list[Outcome]:
    """`items` are ContactInputSerializer.validated_data (None where the caller found errors,
    given in `errors`). Returns one Outcome per item, in order."""
    given = {i: dict(e) for i, e in (errors or {}).items()}  # the caller's, kept for a retry
    errors = defaultdict(dict, errors or {})
    definitions = dict(AttributeDefinition.objects.filter(workspace=workspace).values_list("key", "type"))
    cleaned: list[dict | None] = [None] * len(items)
    keys: list[tuple | None] = [None] * len(items)
    first_with: dict[tuple, int] = {}
    for index, item in enumerate(items):
        if item is None:
            continue
        try:
            clean = contact_clean(workspace=workspace, data=item, definitions=definitions, partial=True)
        except ValidationError as exc:
            errors[index].update(exc.message_dict)
            continue
        if clean.get("external_id"):
            key = ("external_id", clean["external_id"])
        elif clean.get("phone"):
            key = ("phone", clean["phone"])
        else:
            errors[index]["external_id"] = [
                "Give an external_id (or a phone): it says which contact to create or update."
            ]
            continue
        if key in first_with:
            errors[index][key[0]] = [
                f"Also in contacts[{first_with[key]}]; give each contact once per request."
            ]
            continue
        first_with[key] = index
        cleaned[index], keys[index] = clean, key

    # the contacts named, and every holder of a phone or external id an item sets
    wanted = {"external_id": set(), "phone": set()}
    for clean in cleaned:
        for kind in wanted:
            if clean and clean.get(kind):
                wanted[kind].add(clean[kind])
    holders: dict[tuple, Contact] = {}
    for kind, values in wanted.items():
        if values:
            for contact in Contact.objects.filter(workspace=workspace, **{f"{kind}__in": values}):
                holders[(kind, getattr(contact, kind))] = contact

    targets: list[Contact | None] = [None] * len(items)
    claimed: dict[tuple, int] = {}  # (kind, value) -> index of the item that sets it
    for index, clean in enumerate(cleaned):
        if clean is None:
            continue
        target = holders.get(keys[index])
        for kind in ("external_id", "phone"):
            value = clean.get(kind)
            if not value:
                continue
            holder = holders.get((kind, value))
            if holder is not None and (target is None or holder.pk != target.pk):
                errors[index][kind] = [UNIQUE_FIELD_MESSAGES[f"contact_unique_{kind}"][1]]
            elif (kind, value) in claimed:
                errors[index][kind] = [
                    f"contacts[{claimed[(kind, value)]}] gives the same {kind.replace('_', ' ')}."
                ]
            else:
                claimed[(kind, value)] = index
        targets[index] = target
    if errors and all_or_nothing:
        raise ContactsRejected(errors)
    try:
        return _write(workspace, actor, items, cleaned, targets, errors)
    except IntegrityError:  # a concurrent writer took a phone or external id meanwhile
        if not retry:
            raise
        return contacts_upsert_many(
            workspace=workspace,
            actor=actor,
            items=items,
            errors=given,
            all_or_nothing=all_or_nothing,
            retry=False,
        )


def _write(workspace, actor, items, cleaned, targets, errors) -> list[Outcome]:
    now = timezone.now()
    outcomes = [Outcome(index, "invalid", errors=errors.get(index, {})) for index in range(len(items))]
    new: list[Contact] = []
    changed: dict[int, Contact] = {}
    changed_fields: set[str] = set()
    audit_fields: dict[int, list[str]] = {}
    tagged: dict[int, list[str]] = {}  # index -> tag names (the contact's tags are replaced)
    for index, clean in enumerate(cleaned):
        if clean is None or index in errors:
            continue
        contact = targets[index]
        plain = {k: v for k, v in clean.items() if k != "tags"}
        if contact is None:
            contact = Contact(workspace_id=workspace.pk)  # an id: the descriptor costs more than the row
            contact._state.fields_cache["workspace"] = workspace
            _apply(contact, plain)
            new.append(contact)
            outcomes[index] = Outcome(index, "created", contact)
        else:
            before = {f: getattr(contact, f) for f in plain}
            _apply(contact, plain)
            fields = sorted(f for f in plain if before[f] != getattr(contact, f))
            outcomes[index] = Outcome(index, "unchanged", contact)
            if fields:
                changed[index] = contact
                changed_fields.update(fields)
                audit_fields[contact.pk] = fields
                outcomes[index].status = "updated"
        if "tags" in clean:
            tagged[index] = clean["tags"]
    with transaction.atomic():
        insert_rows(Contact, new)
        if changed:
            for contact in changed.values():
                contact.updated_at = now
            update_rows(Contact, list(changed.values()), [*sorted(changed_fields), "updated_at"])
        if tagged:
            _tags_replace(
                workspace, {outcomes[i].contact: names for i, names in tagged.items()}, outcomes, audit_fields
            )
        audit_record_many(
            workspace=workspace, actor=actor, action="contacts.contact.created", targets=new, at=now
        )
        updated = [o.contact for o in outcomes if o.status == "updated"]
        audit_record_many(
            workspace=workspace,
            actor=actor,
            action="contacts.contact.updated",
            targets=updated,
            data=lambda c: {"fields": audit_fields.get(c.pk, [])},
            at=now,
        )
        contacts_changed_publish(workspace=workspace, created=new, updated=updated)
    return outcomes


def _tags_replace(workspace, wanted: dict[Contact, list[str]], outcomes, audit_fields) -> None:
    """Each contact's tags become exactly `wanted[contact]`: one read of the links, one delete,
    one insert. A contact whose tags change is `updated`."""
    through = Contact.tags.through
    names = sorted({n for tags in wanted.values() for n in tags})
    tags = {t.name: t for t in tags_ensure(workspace=workspace, names=names)}
    have: dict[int, set[int]] = defaultdict(set)
    for contact_id, tag_id in through.objects.filter(contact__in=[c.pk for c in wanted]).values_list(
        "contact_id", "tag_id"
    ):
        have[contact_id].add(tag_id)
    redo: list[int] = []
    touched: list[Contact] = []  # only their tags change: still an update
    add = []
    by_contact = {o.contact.pk: o for o in outcomes if o.contact is not None}
    for contact, tag_names in wanted.items():
        want = {tags[n].pk for n in tag_names}
        if want == have[contact.pk]:
            continue
        redo.append(contact.pk)
        add += [through(contact_id=contact.pk, tag_id=t) for t in want]
        outcome = by_contact[contact.pk]
        if outcome.status == "unchanged":
            outcome.status = "updated"
            touched.append(contact)
        audit_fields.setdefault(contact.pk, []).append("tags")
    if touched:
        now = timezone.now()
        Contact.objects.filter(pk__in=[c.pk for c in touched]).update(updated_at=now)
        for contact in touched:
            contact.updated_at = now
    if redo:
        through.objects.filter(contact_id__in=redo).delete()
    through.objects.bulk_create(add, batch_size=2000)
