"""Writes an agent makes from the contact panel: a promise to pay, the vulnerability flag, the
contact fields an agent may change. Each goes through the owning app's service (journeys'
promise_record, contacts' contact_update / contact_vulnerability_set: the same validation and
audit as everywhere) and leaves an entry on the conversation's timeline, in one transaction;
the conversation's watchers hear of it after commit."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact
from cpaas.tenancy import Actor
from journeys.models import PromiseToPay

from . import live
from .models import Conversation, Entry
from .services.conversations import entry_add

# What an agent may change on a contact. Not the phone, the external id or the channel ids: they
# are the contact's identity for consent and the customer's systems (an admin's job).
AGENT_FIELDS = frozenset(
    {"first_name", "last_name", "email", "language", "timezone", "preferred_channel", "tags", "attributes"}
)


def _entry(
    conversation: Conversation, actor: Actor, kind: str, now: dt.datetime, body="", data=None
) -> Entry:
    author = actor.user if actor.kind == "user" else None
    entry = entry_add(conversation, kind, at=now, author=author, body=body, data=data)
    what = "note" if kind == Entry.Kind.NOTE else "promise"
    live.conversation_changed(conversation, what, entry_id=entry.pk, kind=kind)
    return entry


@transaction.atomic
def conversation_promise_record(
    *, conversation: Conversation, actor: Actor, data: dict, now: dt.datetime | None = None
) -> PromiseToPay:
    """The customer promised to pay: a PromiseToPay the journeys use (journeys.services.
    promise_record) and a "promise recorded" entry on the timeline."""
    from journeys.services import promise_record

    now = now or timezone.now()
    promise = promise_record(contact=conversation.contact, actor=actor, data=data, now=now)
    _entry(
        conversation,
        actor,
        Entry.Kind.PROMISE_RECORDED,
        now,
        body=promise.source_text,
        data={
            "promise_id": promise.pk,
            "amount": str(promise.amount or ""),
            "currency": promise.currency,
            "due_date": promise.due_date.isoformat(),
            "reminder_channel": promise.reminder_channel,
            "journey_id": promise.journey_id,
        },
    )
    return promise


@transaction.atomic
def conversation_vulnerability_set(
    *, conversation: Conversation, actor: Actor, vulnerable: bool, note: str, now: dt.datetime | None = None
) -> Contact:
    """Flag or clear the customer as vulnerable with a note (contacts' service audits it); the
    timeline keeps it as a note every agent on the conversation reads."""
    from contacts.services import contact_vulnerability_set

    now = now or timezone.now()
    contact = contact_vulnerability_set(
        contact=conversation.contact, actor=actor, vulnerable=vulnerable, note=note
    )
    label = "Flagged the customer as vulnerable" if vulnerable else "Cleared the vulnerability flag"
    _entry(
        conversation,
        actor,
        Entry.Kind.NOTE,
        now,
        body=f"{label}: {contact.vulnerability_note}",
        data={"vulnerable": vulnerable},
    )
    return contact


@transaction.atomic
def conversation_contact_update(*, conversation: Conversation, actor: Actor, data: dict) -> Contact:
    """Change the fields an agent may change (AGENT_FIELDS), validated by contacts.contact_clean
    through contact_update; any other field is refused, nothing written."""
    from contacts.services import contact_update

    refused = sorted(set(data) - AGENT_FIELDS)
    if refused:
        raise ValidationError({field: ["An agent cannot change this field."] for field in refused})
    return contact_update(contact=conversation.contact, actor=actor, data=data)


@transaction.atomic
def conversation_resolve_with_disposition(
    *,
    conversation: Conversation,
    actor: Actor,
    disposition: str,
    note: str = "",
    now: dt.datetime | None = None,
) -> Conversation:
    """Resolve from the panel's dialog with a disposition code. Two codes claim a fact the panel
    holds, so they need it first: "promised" a promise still open, "vulnerable" the flag."""
    from .services import conversation_resolve

    now = now or timezone.now()
    D = Conversation.Disposition
    if not disposition:
        raise ValidationError({"disposition": ["Choose how the conversation ended."]})
    if (
        disposition == D.PROMISED
        and not PromiseToPay.objects.filter(
            contact=conversation.contact, status=PromiseToPay.Status.PROMISED
        ).exists()
    ):
        raise ValidationError({"disposition": ["Record the promise to pay first (amount and date)."]})
    if disposition == D.VULNERABLE and not conversation.contact.is_vulnerable:
        raise ValidationError({"disposition": ["Flag the customer as vulnerable first, with a note."]})
    return conversation_resolve(
        actor=actor, conversation=conversation, disposition=disposition, note=note, now=now
    )
