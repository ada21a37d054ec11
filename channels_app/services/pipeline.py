"""The one send pipeline: drafts in, stored messages out. Every outbound message (one send, a
batch, a journey round, the next attempt of a fallback chain) goes through `send_many`: channel
resolved per contact, address, content cleaned once per distinct content and channel, consent
asked in one `check_many` per kind, rows written in one insert with their consent events.

What happens next (the fallback of a blocked message, waking the dispatcher, the audit entry)
belongs to the callers: this module sits below them and calls none of them."""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from consent.models import SentBy
from contacts.models import ChannelKind, Contact
from cpaas.models import Workspace

from .. import consent_gate
from ..addresses import contact_address, missing_address_reason
from ..bulk import insert_rows
from ..content import content_clean, segment_fields
from ..models import Channel, ChannelTemplate, Message, MessageStatusEvent, Purpose
from ..providers import get_provider

PREFERRED = "preferred"
# The order "preferred" tries when the contact has no preferred channel (or cannot get it).
PREFERRED_ORDER = ("whatsapp", "sms", "rcs", "email", "messenger", "viber", "push", "voice")
DEFAULT_FALLBACK_AFTER_S = 60
FALLBACK_AFTER_RANGE = (1, 7 * 86400)
IDEMPOTENCY_KEY_MAX = 200
KINDS = frozenset(ChannelKind.values)  # (the enum's .values builds a new list on every use)
S = Message.Status


def when(now: dt.datetime | None) -> dt.datetime:
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise ValueError("now must be an aware datetime")
    return now


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


def clean_purpose(purpose) -> str:
    """The registry knows the workspace's purposes (built-in and custom) and refuses unknown
    ones in check()."""
    if not isinstance(purpose, str) or not purpose or len(purpose) > 32:
        raise ValidationError({"purpose": [f"A purpose such as {', '.join(Purpose.values)}."]})
    return purpose


def clean_sent_by(sent_by) -> str:
    if sent_by not in SentBy.values:
        raise ValidationError({"sent_by": [f"One of: {', '.join(SentBy.values)}."]})
    return sent_by


def clean_fallback(chain, fallback_after_s, first_kind: str) -> tuple[list[str], int | None]:
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


def clean_key(key) -> str | None:
    if key in (None, ""):
        return None
    key = str(key).strip()
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise ValidationError({"idempotency_key": [f"At most {IDEMPOTENCY_KEY_MAX} characters."]})
    return key


def prepare_content(channel: Channel, content, workspace: Workspace) -> tuple[dict, str, list[str]]:
    provider = get_provider(channel.provider)
    clean, text, notes = content_clean(
        kind=channel.kind,
        content=content,
        capabilities=provider.capabilities(channel.kind),
        default_subject=f"Message from {workspace.name}",
    )
    return _template_language(channel, content, clean), text, notes


def _template_language(channel: Channel, content, clean: dict) -> dict:
    """A template named without its language (the inbox's picker, an API call) takes the
    language the channel's account approved it in: Meta refuses `en` for a template approved
    in `en_US` (132001). Given explicitly, the language is kept as given."""
    template = clean.get("template")
    asked = content.get("template") if isinstance(content, dict) else None
    if not template or (isinstance(asked, dict) and asked.get("language")):
        return clean
    languages = sorted(
        ChannelTemplate.objects.filter(channel=channel, name=template["name"], status="approved").values_list(
            "language", flat=True
        )
    )
    if not languages or template["language"] in languages:
        return clean
    wanted = template["language"]
    pick = next((lang for lang in languages if lang.split("_")[0] == wanted.split("_")[0]), languages[0])
    return {**clean, "template": {**template, "language": pick}}


@functools.lru_cache(maxsize=256)
def _segments(kind: str, text: str) -> dict:
    return segment_fields(kind, text)  # a batch sends the same text many times


# --- the pipeline -------------------------------------------------------------------------------


@dataclass
class Draft:
    """One message to store: who, what, and how it links to others."""

    contact: Contact
    content: dict | str
    key: str | None = None
    fallback_of: Message | None = None
    first_attempt: Message | None = None
    reply_to: Message | None = None
    notes: list[str] = field(default_factory=list)  # added to the content notes (e.g. why a fallback)
    sealed: str = ""  # secrets only the provider sees (sealing.py), carried on by a fallback


@dataclass
class Sent:
    messages: list[Message]
    skipped: dict[int, ValidationError]  # contact id -> why no message was stored
    existing: list[Message] = field(default_factory=list)  # idempotency keys used before


def _row(*, workspace, draft, channel, address, cleaned, common, chain, after, verdict, now):
    clean, text, notes = cleaned
    if "voice" in clean and not clean["voice"].get("language"):
        # a call speaks the contact's language (the provider picks its voice for it)
        language = draft.contact.language or workspace.default_language or "en"
        clean = {**clean, "voice": {**clean["voice"], "language": language}}
    status, due_at = {
        "allow": (S.QUEUED, now),
        "deny": (S.BLOCKED, None),
        "defer": (S.DEFERRED, verdict.defer_until or now),
    }.get(verdict.outcome, (S.BLOCKED, None))
    scheduled = (
        common["not_before"] is not None and status != S.BLOCKED and common["not_before"] > (due_at or now)
    )
    if scheduled:  # a reply "sent at 9:00 their time": consent decides again when it is released
        status, due_at = S.DEFERRED, common["not_before"]
    blocked = status == S.BLOCKED
    message = Message(
        workspace=workspace,
        contact=draft.contact,
        channel=channel,
        kind=channel.kind,
        direction=Message.Direction.OUTBOUND,
        address=address,
        text=text,
        content=clean,
        content_notes=notes + draft.notes,
        sealed=draft.sealed,
        purpose=common["purpose"],
        origin=common["origin"],
        origin_ref=common["origin_ref"][:120],
        sent_by=common["sent_by"],
        journey_id=common["journey_id"],
        status=status,
        status_changed_at=now,
        created_at=now,
        due_at=due_at,
        idempotency_key=draft.key,
        options=common["options"] or {},
        consent_outcome=verdict.outcome,
        consent_rule=verdict.rule[:60],
        consent_reason=verdict.reason[:500],
        fallback_chain=chain,
        fallback_after_s=after,
        fallback_of=draft.fallback_of,
        first_attempt=draft.first_attempt,
        reply_to=draft.reply_to,
        failed_at=now if blocked else None,
        error_code="consent" if blocked else "",
        error_reason=verdict.reason[:500] if blocked else "",
        **_segments(channel.kind, text),
    )
    # A new row is born in its first status, so this is not a transition: "queued" is the row's
    # created_at (selectors.message_history shows it); only what consent decided otherwise is an
    # event row.
    events = []
    if status != S.QUEUED:
        detail = verdict.reason
        if scheduled:
            detail = f"scheduled for {due_at.isoformat()}" + (f"; {verdict.reason}" if verdict.reason else "")
        elif status == S.DEFERRED:
            detail = f"until {due_at.isoformat()}: {verdict.reason}"
        events.append(
            MessageStatusEvent(
                message=message,
                status=status,
                at=now,
                source="consent",
                error_code=verdict.rule[:40],
                detail=detail[:500],
            )
        )
    return message, events


def _key_of(raw) -> str:
    return raw if isinstance(raw, str) else json.dumps(raw, sort_keys=True, default=str)


@transaction.atomic
def send_many(
    *,
    workspace: Workspace,
    drafts: list[Draft],
    channel,
    purpose: str,
    origin: str,
    origin_ref: str = "",
    journey_id: int | None = None,
    options: dict | None = None,
    fallback: list[str] | None = None,
    fallback_after_s: int | None = None,
    consent_exempt: str = "",
    shared_content: bool = False,
    sent_by: str = SentBy.AUTOMATION,
    not_before: dt.datetime | None = None,
    now: dt.datetime,
) -> Sent:
    """Store the drafts' messages (queued, deferred or blocked, as consent decides) in a bounded
    number of queries whatever their number. A draft that cannot be sent is skipped with the
    reason (a field error); with `shared_content`, content that cannot be sent refuses them all.
    A draft whose idempotency key was used before is not stored again (`Sent.existing`).
    `consent_exempt` names the one kind of send that does not ask consent: the reply the
    registry's keyword service returns (a STOP confirmation must reach a contact who just opted
    out). `sent_by` says whether a person (an agent's reply) or automation sends: consent decides
    each by its own rules, now and at hand-over. `not_before` schedules the messages: stored
    deferred until then (consent is asked now, and again when they are released)."""
    if not_before is not None and timezone.is_naive(not_before):
        raise ValidationError({"send_at": ["A time with its time zone."]})
    if options is not None and not isinstance(options, dict):
        raise ValidationError({"options": ["Must be an object."]})
    keys = [d.key for d in drafts if d.key]
    existing = (
        {m.idempotency_key: m for m in Message.objects.filter(workspace=workspace, idempotency_key__in=keys)}
        if keys
        else {}
    )
    common = {
        "purpose": purpose,
        "origin": origin,
        "origin_ref": origin_ref,
        "journey_id": journey_id,
        "options": options,
        "sent_by": sent_by,
        "not_before": not_before,
    }
    channels = active_channels(workspace)
    skipped: dict[int, ValidationError] = {}
    plan: dict[int, list[Draft]] = {}  # channel id -> drafts
    by_id: dict[int, Channel] = {}
    for draft in drafts:
        if draft.key and draft.key in existing:
            continue
        try:
            resolved = channel_resolve(
                workspace=workspace, contact=draft.contact, spec=channel, channels=channels
            )
        except ValidationError as exc:
            skipped[draft.contact.pk] = exc
            continue
        if not contact_address(draft.contact, resolved.kind):
            skipped[draft.contact.pk] = ValidationError(
                {"contact": [missing_address_reason(draft.contact, resolved.kind)]}
            )
            continue
        by_id[resolved.pk] = resolved
        plan.setdefault(resolved.pk, []).append(draft)
    messages, events = [], []
    for channel_id, group in plan.items():
        resolved = by_id[channel_id]
        chain, after = clean_fallback(fallback, fallback_after_s, resolved.kind)
        prepared: dict[str, tuple | ValidationError] = {}  # content (as JSON) -> cleaned, once each
        ready: dict[bool, list[tuple[Draft, tuple]]] = {}  # is_template -> (draft, cleaned)
        for draft in group:
            key = _key_of(draft.content)
            if key not in prepared:
                try:
                    prepared[key] = prepare_content(resolved, draft.content, workspace)
                except ValidationError as exc:
                    if shared_content:
                        raise
                    prepared[key] = exc
            cleaned = prepared[key]
            if isinstance(cleaned, ValidationError):
                skipped[draft.contact.pk] = cleaned
                continue
            ready.setdefault("template" in cleaned[0], []).append((draft, cleaned))
        for is_template, pairs in ready.items():
            if consent_exempt:
                verdict = consent_gate.Verdict(
                    "allow", consent_exempt[:60], "Keyword reply from the consent registry."
                )
                verdicts = {d.contact.pk: verdict for d, _ in pairs}
            else:
                verdicts = consent_gate.check_many(
                    [d.contact for d, _ in pairs],
                    resolved.kind,
                    purpose,
                    now,
                    is_template=is_template,
                    sent_by=sent_by,
                )
            for draft, cleaned in pairs:
                message, evs = _row(
                    workspace=workspace,
                    draft=draft,
                    channel=resolved,
                    address=contact_address(draft.contact, resolved.kind),
                    cleaned=cleaned,
                    common=common,
                    chain=chain,
                    after=after,
                    verdict=verdicts[draft.contact.pk],
                    now=now,
                )
                messages.append(message)
                events.extend(evs)
    try:
        with transaction.atomic():
            insert_rows(Message, messages)
    except IntegrityError:
        # a concurrent send with the same idempotency keys won: theirs are the messages
        mine = [m.idempotency_key for m in messages if m.idempotency_key]
        won = {
            m.idempotency_key: m
            for m in Message.objects.filter(workspace=workspace, idempotency_key__in=mine)
        }
        if not won:
            raise
        existing.update(won)
        messages = [m for m in messages if m.idempotency_key not in won]
        events = [e for e in events if e.message.idempotency_key not in won]
        insert_rows(Message, messages)
    for event in events:
        event.message_id = event.message.pk
    insert_rows(MessageStatusEvent, events)
    return Sent(messages=messages, skipped=skipped, existing=list(existing.values()))
