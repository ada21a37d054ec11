"""Sending: one message, a batch, and the next attempt of a fallback chain.

Every send asks the consent registry first. Denied: stored as blocked with the decision's reason
(and the fallback chain moves on). Deferred: stored and released at the allowed time. Allowed:
stored as queued; the dispatcher hands it to the provider after this transaction commits."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import ChannelKind, Contact
from cpaas.audit import audit_record
from cpaas.models import Workspace
from cpaas.tenancy import Actor

from .. import consent_gate
from ..addresses import contact_address, missing_address_reason
from ..bulk import insert_rows
from ..content import content_clean, segment_fields
from ..models import Channel, Message, MessageStatusEvent, Purpose
from ..providers import get_provider

PREFERRED = "preferred"
# The order "preferred" tries when the contact has no preferred channel (or cannot get it).
PREFERRED_ORDER = ("whatsapp", "sms", "rcs", "email", "messenger", "viber", "push", "voice")
DEFAULT_FALLBACK_AFTER_S = 60
FALLBACK_AFTER_RANGE = (1, 7 * 86400)
IDEMPOTENCY_KEY_MAX = 200
BATCH_MAX = 10_000
KINDS = frozenset(ChannelKind.values)  # (the enum's .values builds a new list on every use)


class IdempotencyConflict(ValidationError):
    """The idempotency key was used before for a message to someone else."""

    api_code = "conflict"


def _when(now: dt.datetime | None) -> dt.datetime:
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise ValueError("now must be an aware datetime")
    return now


def status_event(message: Message, status: str, at, source: str, **kw) -> MessageStatusEvent:
    return MessageStatusEvent(message=message, status=status, at=at, source=source, **kw)


# --- channels -----------------------------------------------------------------------------------


def active_channels(workspace: Workspace) -> dict[str, list[Channel]]:
    by_kind: dict[str, list[Channel]] = {}
    for channel in Channel.objects.filter(workspace=workspace, status=Channel.Status.ACTIVE).order_by("pk"):
        by_kind.setdefault(channel.kind, []).append(channel)
    return by_kind


def _spec_error(spec) -> ValidationError:
    return ValidationError(
        {
            "channel": [
                f"Unknown channel '{spec}': give a channel id, a kind ({', '.join(ChannelKind.values)}) "
                f"or '{PREFERRED}'."
            ]
        }
    )


def channel_resolve(*, workspace: Workspace, contact: Contact, spec, channels=None) -> Channel:
    """The active channel that `spec` names for this contact: a Channel, a channel id, a kind,
    or "preferred" (the contact's preferred kind, else the first kind they have an address
    for). ValidationError when there is none."""
    channels = active_channels(workspace) if channels is None else channels
    if not channels and not Channel.objects.filter(workspace=workspace).exists():
        # a workspace older than this app: give it its sandbox channels now
        from .channels import sandbox_channels_ensure

        sandbox_channels_ensure(workspace=workspace)
        channels.update(active_channels(workspace))
    if isinstance(spec, Channel) or (isinstance(spec, int) and not isinstance(spec, bool)):
        pk = spec.pk if isinstance(spec, Channel) else spec
        for group in channels.values():
            for channel in group:
                if channel.pk == pk:
                    return channel
        if Channel.objects.filter(workspace=workspace, pk=pk).exists():
            raise ValidationError({"channel": [f"Channel {pk} is disabled."]})
        raise ValidationError({"channel": [f"Channel {pk} not found in this workspace."]})
    if not isinstance(spec, str) or not spec:
        raise _spec_error(spec)
    if spec.isdigit():
        return channel_resolve(workspace=workspace, contact=contact, spec=int(spec), channels=channels)
    if spec == PREFERRED:
        order = [contact.preferred_channel] if contact.preferred_channel else []
        order += [k for k in PREFERRED_ORDER if k not in order]
        for kind in order:
            if channels.get(kind) and contact_address(contact, kind):
                return channels[kind][0]
        raise ValidationError({"channel": [f"{contact.display_name} has no address on any active channel."]})
    if spec not in KINDS:
        raise _spec_error(spec)
    if not channels.get(spec):
        raise ValidationError({"channel": [f"No active {spec} channel in this workspace."]})
    return channels[spec][0]


# --- checks -------------------------------------------------------------------------------------


def _clean_purpose(purpose) -> str:
    """The registry knows the workspace's purposes (built-in and custom) and refuses unknown
    ones in check(); without it only the built-in purposes are accepted."""
    if not isinstance(purpose, str) or not purpose or len(purpose) > 32:
        raise ValidationError({"purpose": [f"A purpose such as {', '.join(Purpose.values)}."]})
    if consent_gate._services() is None and purpose not in Purpose.values:
        raise ValidationError(
            {"purpose": [f"Unknown purpose '{purpose}' (one of {', '.join(Purpose.values)})."]}
        )
    return purpose


def _clean_fallback(chain, fallback_after_s, first_kind: str) -> tuple[list[str], int | None]:
    if not chain:
        return [], None
    if not isinstance(chain, list | tuple) or not all(isinstance(k, str) for k in chain):
        raise ValidationError({"fallback": ['A list of channel kinds, e.g. ["sms", "voice"].']})
    unknown = [k for k in chain if k not in KINDS]
    if unknown:
        raise ValidationError({"fallback": [f"Unknown channel kind '{unknown[0]}'."]})
    chain = [k for i, k in enumerate(chain) if k != first_kind and k not in chain[:i]]
    if fallback_after_s is None:
        fallback_after_s = DEFAULT_FALLBACK_AFTER_S
    low, high = FALLBACK_AFTER_RANGE
    if not isinstance(fallback_after_s, int) or not low <= fallback_after_s <= high:
        raise ValidationError({"fallback_after_s": [f"Seconds from {low} to {high}."]})
    return chain, (fallback_after_s if chain else None)


def _clean_key(key) -> str | None:
    if key in (None, ""):
        return None
    key = str(key).strip()
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise ValidationError({"idempotency_key": [f"At most {IDEMPOTENCY_KEY_MAX} characters."]})
    return key


def _prepare_content(channel: Channel, content, workspace: Workspace) -> tuple[dict, str, list[str]]:
    provider = get_provider(channel.provider)
    return content_clean(
        kind=channel.kind,
        content=content,
        capabilities=provider.capabilities(channel.kind),
        default_subject=f"Message from {workspace.name}",
    )


# --- building rows ------------------------------------------------------------------------------


def _message(
    *,
    workspace,
    contact,
    channel,
    address,
    clean,
    text,
    notes,
    purpose,
    origin,
    origin_ref,
    key,
    options,
    chain,
    fallback_after_s,
    verdict,
    now,
    fallback_of=None,
    first_attempt=None,
    reply_to=None,
    journey_id=None,
) -> tuple[Message, list[MessageStatusEvent]]:
    status, due_at = {
        "allow": (Message.Status.QUEUED, now),
        "deny": (Message.Status.BLOCKED, None),
        "defer": (Message.Status.DEFERRED, verdict.defer_until or now),
    }.get(verdict.outcome, (Message.Status.BLOCKED, None))
    message = Message(
        workspace=workspace,
        contact=contact,
        channel=channel,
        kind=channel.kind,
        direction=Message.Direction.OUTBOUND,
        address=address,
        text=text,
        content=clean,
        content_notes=notes,
        purpose=purpose,
        origin=origin,
        origin_ref=origin_ref[:120],
        journey_id=journey_id,
        status=status,
        status_changed_at=now,
        created_at=now,
        due_at=due_at,
        idempotency_key=key,
        options=options or {},
        consent_outcome=verdict.outcome,
        consent_rule=verdict.rule[:60],
        consent_reason=verdict.reason[:500],
        fallback_chain=chain,
        fallback_after_s=fallback_after_s,
        fallback_of=fallback_of,
        first_attempt=first_attempt,
        reply_to=reply_to,
        failed_at=now if status == Message.Status.BLOCKED else None,
        error_code="consent" if status == Message.Status.BLOCKED else "",
        error_reason=verdict.reason[:500] if status == Message.Status.BLOCKED else "",
        **_segments(channel.kind, text),
    )
    # "queued" is the row's created_at (selectors.message_history shows it); only what consent
    # decided otherwise is an event row
    events = []
    if status != Message.Status.QUEUED:
        detail = verdict.reason
        if status == Message.Status.DEFERRED:
            detail = f"until {due_at.isoformat()}: {verdict.reason}"
        events.append(
            status_event(message, status, now, "consent", error_code=verdict.rule[:40], detail=detail[:500])
        )
    return message, events


@functools.lru_cache(maxsize=256)
def _segments(kind: str, text: str) -> dict:
    return segment_fields(kind, text)  # a batch sends the same text many times


def _wake_after_commit() -> None:
    """Dispatchers poll every ~0.1 s; tests and single-process setups can ask for an inline run."""
    if getattr(settings, "CHANNELS_DISPATCH_INLINE", False):
        from .dispatch import dispatch_pending

        transaction.on_commit(lambda: dispatch_pending(now=timezone.now()))


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
    now: dt.datetime | None = None,
) -> Message:
    """Store one outbound message (queued, deferred or blocked, as consent decides). The same
    idempotency key again returns the first message and sends nothing. `consent_exempt` names
    the one kind of send that does not ask consent: the reply the registry's keyword service
    returns (a STOP confirmation must reach a contact who just opted out)."""
    now = _when(now)
    if contact.workspace_id != workspace.pk:
        raise ValidationError({"contact": ["No such contact in this workspace."]})
    key = _clean_key(idempotency_key)
    if key:
        existing = Message.objects.filter(workspace=workspace, idempotency_key=key).first()
        if existing is not None:
            return _same_or_conflict(existing, contact)
    purpose = _clean_purpose(purpose)
    resolved = channel_resolve(workspace=workspace, contact=contact, spec=channel)
    address = contact_address(contact, resolved.kind)
    if not address:
        raise ValidationError({"contact": [missing_address_reason(contact, resolved.kind)]})
    clean, text, notes = _prepare_content(resolved, content, workspace)
    chain, after = _clean_fallback(fallback, fallback_after_s, resolved.kind)
    if options is not None and not isinstance(options, dict):
        raise ValidationError({"options": ["Must be an object."]})
    if consent_exempt:
        verdict = consent_gate.Verdict(
            "allow", consent_exempt[:60], "Keyword reply from the consent registry."
        )
    else:
        verdict = consent_gate.check(contact, resolved.kind, purpose, now, is_template="template" in clean)
    message, events = _message(
        workspace=workspace,
        contact=contact,
        channel=resolved,
        address=address,
        clean=clean,
        text=text,
        notes=notes,
        purpose=purpose,
        origin=origin,
        origin_ref=origin_ref,
        key=key,
        options=options,
        chain=chain,
        fallback_after_s=after,
        verdict=verdict,
        now=now,
        reply_to=reply_to,
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        existing = Message.objects.filter(workspace=workspace, idempotency_key=key).first() if key else None
        if existing is None:
            raise
        return _same_or_conflict(existing, contact)  # a concurrent request with the key won
    MessageStatusEvent.objects.bulk_create(events)
    if actor is not None and actor.kind != "system":
        audit_record(
            workspace=workspace,
            actor=actor,
            action="channels.message.sent",
            target=message,
            data={"kind": message.kind, "purpose": purpose, "status": message.status},
            at=now,
        )
    if message.status == Message.Status.BLOCKED and chain:
        fallback_next(message=message, now=now, reason="blocked")
    _wake_after_commit()
    return message


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
    now = _when(now)
    contacts = list(contacts)
    if contents is not None and len(contents) != len(contacts):
        raise ValueError("contents must hold one content per contact")
    if contents is None and content is None:
        raise ValidationError({"content": ["Content is required."]})
    if len(contacts) > BATCH_MAX:
        raise ValidationError({"contacts": [f"At most {BATCH_MAX:,} contacts per batch."]})
    if any(c.workspace_id != workspace.pk for c in contacts):
        raise ValidationError({"contacts": ["A contact is not in this workspace."]})
    purpose = _clean_purpose(purpose)
    base_key = _clean_key(idempotency_key)
    if base_key and len(base_key) > IDEMPOTENCY_KEY_MAX - 21:
        raise ValidationError(
            {"idempotency_key": [f"At most {IDEMPOTENCY_KEY_MAX - 21} characters in a batch."]}
        )
    channels = active_channels(workspace)
    skipped: dict[int, str] = {}
    existing: dict[str, Message] = {}
    if base_key:
        keys = [f"{base_key}:{c.pk}" for c in contacts]
        existing = {
            m.idempotency_key: m
            for m in Message.objects.filter(workspace=workspace, idempotency_key__in=keys)
        }
    plan: dict[int, list[tuple[Contact, dict]]] = {}  # channel id -> (contact, content)
    by_id: dict[int, Channel] = {}
    for i, contact in enumerate(contacts):
        if base_key and f"{base_key}:{contact.pk}" in existing:
            continue
        try:
            resolved = channel_resolve(workspace=workspace, contact=contact, spec=channel, channels=channels)
        except ValidationError as exc:
            skipped[contact.pk] = exc.messages[0]
            continue
        if not contact_address(contact, resolved.kind):
            skipped[contact.pk] = missing_address_reason(contact, resolved.kind)
            continue
        by_id[resolved.pk] = resolved
        plan.setdefault(resolved.pk, []).append((contact, content if contents is None else contents[i]))
    messages, events = [], []
    for channel_id, group in plan.items():
        resolved = by_id[channel_id]
        chain, after = _clean_fallback(fallback, fallback_after_s, resolved.kind)
        prepared: dict[str, tuple] = {}  # content (as JSON) -> cleaned, once per distinct content
        ready: dict[bool, list[tuple[Contact, tuple]]] = {}  # is_template -> (contact, cleaned)
        for contact, raw in group:
            key = raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True, default=str)
            if key not in prepared:
                try:
                    prepared[key] = _prepare_content(resolved, raw, workspace)
                except ValidationError as exc:
                    if contents is None:
                        raise
                    prepared[key] = exc
            cleaned = prepared[key]
            if isinstance(cleaned, ValidationError):
                skipped[contact.pk] = cleaned.messages[0]
                continue
            ready.setdefault("template" in cleaned[0], []).append((contact, cleaned))
        for is_template, pairs in ready.items():
            verdicts = consent_gate.check_many(
                [c for c, _ in pairs], resolved.kind, purpose, now, is_template=is_template
            )
            for contact, (clean, text, notes) in pairs:
                message, evs = _message(
                    workspace=workspace,
                    contact=contact,
                    channel=resolved,
                    address=contact_address(contact, resolved.kind),
                    clean=clean,
                    text=text,
                    notes=notes,
                    purpose=purpose,
                    origin=origin,
                    origin_ref=origin_ref,
                    key=f"{base_key}:{contact.pk}" if base_key else None,
                    options=options,
                    chain=chain,
                    fallback_after_s=after,
                    verdict=verdicts[contact.pk],
                    now=now,
                    journey_id=journey_id,
                )
                messages.append(message)
                events.extend(evs)
    insert_rows(Message, messages)
    for event in events:
        event.message_id = event.message.pk
    insert_rows(MessageStatusEvent, events)
    if actor is not None and actor.kind != "system" and messages:
        audit_record(
            workspace=workspace,
            actor=actor,
            action="channels.message.batch_sent",
            data={"count": len(messages), "skipped": len(skipped), "purpose": purpose},
            at=now,
        )
    for message in messages:
        if message.status == Message.Status.BLOCKED and message.fallback_chain:
            fallback_next(message=message, now=now, reason="blocked")
    _wake_after_commit()
    return list(existing.values()) + messages, skipped


# --- fallback -----------------------------------------------------------------------------------


def _fallback_content(message: Message) -> dict:
    if "source" in message.content:
        return dict(message.content["source"])
    keys = ("text", "media_url", "buttons", "quick_replies", "template", "voice", "email")
    return {k: v for k, v in message.content.items() if k in keys}


@transaction.atomic
def fallback_next(*, message: Message, now: dt.datetime, reason: str) -> Message | None:
    """Send the same content on the next kind of the message's chain, linked to it. Runs at
    most once per message (fallback_of is unique). Kinds without an active channel or an
    address for the contact are skipped and noted."""
    if not message.fallback_chain or Message.objects.filter(fallback_of=message).exists():
        return None
    # the next message carries the sealed secrets (an OTP code) on: this one needs them no more
    Message.objects.filter(pk=message.pk).update(fallback_deadline=None, sealed="")
    channels = active_channels(message.workspace)
    contact = message.contact
    chain = list(message.fallback_chain)
    notes = []
    while chain:
        kind, chain = chain[0], chain[1:]
        if not channels.get(kind):
            notes.append(f"no active {kind} channel")
            continue
        if not contact_address(contact, kind):
            notes.append(missing_address_reason(contact, kind))
            continue
        resolved = channels[kind][0]
        try:
            clean, text, content_notes = _prepare_content(
                resolved, _fallback_content(message), message.workspace
            )
        except ValidationError as exc:
            notes.append(f"{kind}: {exc.messages[0]}")
            continue
        verdict = consent_gate.check(contact, kind, message.purpose, now, is_template="template" in clean)
        nxt, events = _message(
            workspace=message.workspace,
            contact=contact,
            channel=resolved,
            address=contact_address(contact, kind),
            clean=clean,
            text=text,
            notes=content_notes + [f"fallback after {message.kind} {reason}"],
            purpose=message.purpose,
            origin=message.origin,
            origin_ref=message.origin_ref,
            journey_id=message.journey_id,
            key=f"{message.idempotency_key}~{kind}"[:IDEMPOTENCY_KEY_MAX]
            if message.idempotency_key
            else None,
            options={},  # per-message provider options belong to the first channel
            chain=chain,
            fallback_after_s=message.fallback_after_s if chain else None,
            verdict=verdict,
            now=now,
            fallback_of=message,
            first_attempt=message.first_attempt or message,
            reply_to=message.reply_to,
        )
        nxt.sealed = message.sealed
        try:
            with transaction.atomic():
                nxt.save()
        except IntegrityError:
            return None  # another process made the fallback first
        detail = f"fallback to {kind} (message {nxt.pk}) after {reason}"
        if notes:
            detail += "; skipped: " + "; ".join(notes)
        events.append(
            status_event(message, message.status, now, "fallback", applied=False, detail=detail[:500])
        )
        MessageStatusEvent.objects.bulk_create(events)
        if nxt.status == Message.Status.BLOCKED and chain:
            fallback_next(message=nxt, now=now, reason="blocked")
        _wake_after_commit()
        return nxt
    MessageStatusEvent.objects.create(
        message=message,
        status=message.status,
        at=now,
        source="fallback",
        applied=False,
        detail=("no fallback possible: " + "; ".join(notes))[:500],
    )
    return None
