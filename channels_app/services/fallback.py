"""Fallback chains: `fallback=["sms", "voice"]` sends the same content on the next kind when a
message is blocked by consent, fails, or has no delivery receipt within `fallback_after_s`. The
one module the send service, the dispatcher and the receipts use for it.

What a fallback waits for: a message that was delivered (or read) never falls back; one whose
outcome is unknown (a provider call that may or may not have reached the person) waits until a
receipt or the provider settles it, and only a failure then moves the chain on; one still being
handed over waits for the answer. The next message is stored through the one send pipeline
(consent asked again for its kind), linked by `fallback_of` (unique: once per message) and
`first_attempt`."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from .. import consent_gate
from ..models import Message
from ..providers.base import WINDOW_CLOSED
from . import transitions
from .pipeline import IDEMPOTENCY_KEY_MAX, Draft, active_channels, send_many

S = Message.Status
# the statuses a chain moves on from: the message is not coming (failed, blocked), or it went
# out but no receipt said it arrived in time (sent, from `fallbacks_due` only)
MOVES_ON = frozenset({S.FAILED, S.BLOCKED, S.SENT})


def _fallback_content(message: Message) -> dict:
    if "source" in message.content:
        return dict(message.content["source"])
    keys = ("text", "media_url", "buttons", "quick_replies", "template", "voice", "email")
    return {k: v for k, v in message.content.items() if k in keys}


@transaction.atomic
def fallback_next(*, message: Message, now: dt.datetime, reason: str) -> Message | None:
    """Send the same content on the next kind of the message's chain, linked to it. Runs at
    most once per message (fallback_of is unique), and only while the message's own status (read
    again, under a row lock) says it is not coming: never after a delivery receipt. Kinds without
    an active channel, an address or content they can carry are skipped and noted."""
    if not message.fallback_chain:
        return None
    status = (
        Message.objects.select_for_update().filter(pk=message.pk).values_list("status", flat=True).first()
    )
    if status not in MOVES_ON or Message.objects.filter(fallback_of_id=message.pk).exists():
        return None
    # the next message carries the sealed secrets (an OTP code) on: this one needs them no more
    Message.objects.filter(pk=message.pk).update(fallback_deadline=None, sealed="")
    channels = active_channels(message.workspace)
    chain = list(message.fallback_chain)
    notes: list[str] = []
    while chain:
        kind, chain = chain[0], chain[1:]
        if not channels.get(kind):
            notes.append(f"no active {kind} channel")
            continue
        key = f"{message.idempotency_key}~{kind}"[:IDEMPOTENCY_KEY_MAX] if message.idempotency_key else None
        try:
            sent = send_many(
                workspace=message.workspace,
                drafts=[
                    Draft(
                        contact=message.contact,
                        content=_fallback_content(message),
                        key=key,
                        fallback_of=message,
                        first_attempt=message.first_attempt or message,
                        reply_to=message.reply_to,
                        notes=[f"fallback after {message.kind} {reason}"],
                        sealed=message.sealed,
                    )
                ],
                channel=kind,
                purpose=message.purpose,
                origin=message.origin,
                origin_ref=message.origin_ref,
                journey_id=message.journey_id,
                options={},  # per-message provider options belong to the first channel
                fallback=chain,
                fallback_after_s=message.fallback_after_s,
                shared_content=True,
                sent_by=message.sent_by,
                now=now,
            )
        except ValidationError as exc:  # content this kind cannot carry
            notes.append(f"{kind}: {exc.messages[0]}")
            continue
        except IntegrityError:
            return None  # another process made the fallback first
        if sent.skipped:
            notes.append(next(iter(sent.skipped.values())).messages[0])
            continue
        if not sent.messages:
            return None  # its idempotency key was used: made before
        [nxt] = sent.messages
        detail = f"fallback to {kind} (message {nxt.pk}) after {reason}"
        if notes:
            detail += "; skipped: " + "; ".join(notes)
        transitions.note(message_id=message.pk, status=status, at=now, source="fallback", detail=detail)
        after_blocked([nxt], now=now)
        return nxt
    transitions.note(
        message_id=message.pk,
        status=status,
        at=now,
        source="fallback",
        detail="no fallback possible: " + "; ".join(notes),
    )
    return None


def after_blocked(messages: list[Message], *, now: dt.datetime) -> None:
    """Messages consent blocked when they were stored: their chains move on at once."""
    for message in messages:
        if message.status == S.BLOCKED and message.fallback_chain:
            fallback_next(message=message, now=now, reason="blocked")


def after_failed(message_ids: list[int], *, now: dt.datetime) -> None:
    """Messages that just failed (the provider refused, a receipt said so): chains move on. One
    the provider refused as outside the window (consent's rule name) closes consent's window."""
    outside = list(Message.objects.filter(pk__in=message_ids, error_code=WINDOW_CLOSED))
    if outside:
        consent_gate.window_closed(outside, now=now)
    for message in Message.objects.filter(pk__in=message_ids).exclude(fallback_chain=[]):
        fallback_next(message=message, now=now, reason=f"failed ({message.error_code or 'error'})")


def fallbacks_due(*, now: dt.datetime, limit: int = 200) -> int:
    """Messages sent without a delivery receipt within their fallback time go out on the next
    kind. (Receipts kept before their send was recorded are applied first: dispatch's sweep.)"""
    if not Message.objects.filter(fallback_deadline__lte=now).exists():
        return 0
    done = 0
    with transaction.atomic():
        due = list(
            Message.objects.filter(fallback_deadline__lte=now)
            .select_for_update(skip_locked=True)
            .select_related("workspace", "contact")[:limit]
        )
        for m in due:
            if m.status != S.SENT:  # delivered meanwhile, or settled otherwise: no code needed
                Message.objects.filter(pk=m.pk).update(fallback_deadline=None, sealed="")
                continue
            fallback_next(message=m, now=now, reason=f"no delivery receipt within {m.fallback_after_s}s")
            done += 1
    return done
