"""Sending: one message or a batch. Both are the one pipeline (`pipeline.send_many`); one
message is a batch of one whose refusals are raised instead of listed.

Every send asks the consent registry first. Denied: stored as blocked with the decision's reason
(and the fallback chain moves on). Deferred: stored and released at the allowed time. Allowed:
stored as queued; the dispatcher hands it to the provider after this transaction commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from consent.models import SentBy
from contacts.models import Contact
from cpaas.audit import audit_record
from cpaas.models import Workspace
from cpaas.tenancy import Actor

from ..models import Message, Purpose
from .fallback import after_blocked
from .pipeline import (  # noqa: F401  (PREFERRED and channel_resolve are part of this module's API)
    IDEMPOTENCY_KEY_MAX,
    PREFERRED,
    Draft,
    channel_resolve,
    clean_key,
    clean_purpose,
    clean_sent_by,
    send_many,
    when,
)

BATCH_MAX = 10_000


class IdempotencyConflict(ValidationError):
    """The idempotency key was used before for a message to someone else."""

    api_code = "conflict"


def _wake_after_commit() -> None:
    """Dispatchers poll every ~0.1 s; tests and single-process setups can ask for an inline run."""
    if getattr(settings, "CHANNELS_DISPATCH_INLINE", False):
        from .dispatch import dispatch_pending

        transaction.on_commit(lambda: dispatch_pending(now=timezone.now()))


def _same_or_conflict(existing: Message, contact: Contact) -> Message:
    existing.replayed = True  # callers (the API) answer 200 instead of 201
    if existing.contact_id != contact.pk:
        raise IdempotencyConflict(
            {
                "idempotency_key": [
                    f"Already used for message {existing.pk} to another contact. Use a new key for a new message."
                ]
            }
        )
    return existing


# --- one message --------------------------------------------------------------------------------


@transaction.atomic
def message_send(
    *,
    workspace: Workspace,
    contact: Contact,
    channel="preferred",
    content: dict,
    purpose: str = Purpose.TRANSACTIONAL,
    idempotency_key: str | None = None,
    fallback: list[str] | None = None,
    fallback_after_s: int | None = None,
    origin: str = Message.Origin.API,
    origin_ref: str = "",
    options: dict | None = None,
    actor: Actor | None = None,
    reply_to: Message | None = None,
    consent_exempt: str = "",
    sent_by: str = SentBy.AUTOMATION,
    send_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Message:
    """Store one outbound message (queued, deferred or blocked, as consent decides). The same
    idempotency key again returns the first message and sends nothing. `sent_by="person"`
    marks a person's reply (an agent): consent decides it as one, now and at hand-over.
    `send_at` (future): stored deferred until then, and consent asked again at that time."""
    now = when(now)
    if contact.workspace_id != workspace.pk:
        raise ValidationError({"contact": ["No such contact in this workspace."]})
    key = clean_key(idempotency_key)
    if key:
        first = Message.objects.filter(workspace=workspace, idempotency_key=key).first()
        if first is not None:
            return _same_or_conflict(first, contact)
    sent = send_many(
        workspace=workspace,
        drafts=[Draft(contact=contact, content=content, key=key, reply_to=reply_to)],
        channel=channel,
        purpose=clean_purpose(purpose),
        origin=origin,
        origin_ref=origin_ref,
        options=options,
        fallback=fallback,
        fallback_after_s=fallback_after_s,
        consent_exempt=consent_exempt,
        shared_content=True,
        sent_by=clean_sent_by(sent_by),
        not_before=send_at,
        now=now,
    )
    if sent.skipped:
        raise sent.skipped[contact.pk]
    if sent.existing:  # a concurrent request with the key won
        return _same_or_conflict(sent.existing[0], contact)
    [message] = sent.messages
    if actor is not None and actor.kind != "system":
        audit_record(
            workspace=workspace,
            actor=actor,
            action="channels.message.sent",
            target=message,
            data={"kind": message.kind, "purpose": message.purpose, "status": message.status},
            at=now,
        )
    after_blocked([message], now=now)
    _wake_after_commit()
    return message


# --- a batch ------------------------------------------------------------------------------------


@transaction.atomic
def message_send_batch(
    *,
    workspace: Workspace,
    contacts: Iterable[Contact],
    channel="preferred",
    content: dict | None = None,
    contents: list[dict] | None = None,
    purpose: str = Purpose.TRANSACTIONAL,
    idempotency_key: str | None = None,
    fallback: list[str] | None = None,
    fallback_after_s: int | None = None,
    origin: str = Message.Origin.API,
    origin_ref: str = "",
    journey_id: int | None = None,
    options: dict | None = None,
    actor: Actor | None = None,
    now: dt.datetime | None = None,
) -> tuple[list[Message], dict[int, str]]:
    """Many contacts in a bounded number of queries (whatever the count): channels, existing
    keys, one consent check per kind, one insert of messages and one of their status events.
    `content` goes to everyone, or `contents` (one per contact, in order: personalised texts)
    does; content is cleaned once per distinct content and channel. A per-contact content that
    cannot be sent skips that contact with the reason; a shared one that cannot raises. Each
    contact's key is `<idempotency_key>:<contact id>`. Returns (messages, {contact id: why it
    was skipped})."""
    now = when(now)
    contacts = list(contacts)
    if contents is not None and len(contents) != len(contacts):
        raise ValueError("contents must hold one content per contact")
    if contents is None and content is None:
        raise ValidationError({"content": ["Content is required."]})
    if len(contacts) > BATCH_MAX:
        raise ValidationError({"contacts": [f"At most {BATCH_MAX:,} contacts per batch."]})
    if any(c.workspace_id != workspace.pk for c in contacts):
        raise ValidationError({"contacts": ["A contact is not in this workspace."]})
    purpose = clean_purpose(purpose)
    base_key = clean_key(idempotency_key)
    if base_key and len(base_key) > IDEMPOTENCY_KEY_MAX - 21:
        raise ValidationError(
            {"idempotency_key": [f"At most {IDEMPOTENCY_KEY_MAX - 21} characters in a batch."]}
        )
    drafts = [
        Draft(
            contact=c,
            content=content if contents is None else contents[i],
            key=f"{base_key}:{c.pk}" if base_key else None,
        )
        for i, c in enumerate(contacts)
    ]
    sent = send_many(
        workspace=workspace,
        drafts=drafts,
        channel=channel,
        purpose=purpose,
        origin=origin,
        origin_ref=origin_ref,
        journey_id=journey_id,
        options=options,
        fallback=fallback,
        fallback_after_s=fallback_after_s,
        shared_content=contents is None,
        now=now,
    )
    skipped = {pk: exc.messages[0] for pk, exc in sent.skipped.items()}
    if actor is not None and actor.kind != "system" and sent.messages:
        audit_record(
            workspace=workspace,
            actor=actor,
            action="channels.message.batch_sent",
            data={"count": len(sent.messages), "skipped": len(skipped), "purpose": purpose},
            at=now,
        )
    after_blocked(sent.messages, now=now)
    _wake_after_commit()
    return sent.existing + sent.messages, skipped
