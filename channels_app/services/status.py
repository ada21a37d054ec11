"""Delivery receipts: idempotent and in any order. A status only moves forward (a late "sent"
never overwrites "delivered"); failed and blocked end a message, except a send whose outcome was
unknown (its worker died mid-call), which a later receipt can still settle. Every receipt is
kept as a MessageStatusEvent, applied or not."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Q

from .. import live
from ..models import STATUS_RANK, Channel, Message, MessageStatusEvent
from ..providers.base import StatusUpdate
from .messages import fallback_next

log = logging.getLogger(__name__)

OUTCOME_UNKNOWN = "outcome_unknown"
S = Message.Status
RECEIPT_STATUSES = (S.SENT, S.DELIVERED, S.READ, S.FAILED)
TIME_FIELD = {S.SENT: "sent_at", S.DELIVERED: "delivered_at", S.READ: "read_at", S.FAILED: "failed_at"}


def applicable(current: str, current_error: str, new: str) -> bool:
    if current in (S.BLOCKED, S.RECEIVED):
        return False
    if current == S.FAILED:
        return current_error == OUTCOME_UNKNOWN and new != S.FAILED
    if new == S.FAILED:
        return STATUS_RANK[current] <= STATUS_RANK[S.SENT]
    return STATUS_RANK[new] > STATUS_RANK[current]


def _where_applicable(new: str) -> Q:
    """The same rule as `applicable`, as a WHERE clause, so the UPDATE itself is the guard."""
    lower = [s for s in STATUS_RANK if applicable(s, "", new)]
    q = Q(status__in=lower)
    if new != S.FAILED:
        q |= Q(status=S.FAILED, error_code=OUTCOME_UNKNOWN)
    return q


def _fields_for(new: str, at: dt.datetime, update: StatusUpdate | None = None) -> dict:
    fields = {"status": new, "status_changed_at": at, TIME_FIELD[new]: at}
    if new in (S.DELIVERED, S.READ):
        fields["fallback_deadline"] = None
    if new == S.FAILED and update is not None:
        fields["error_code"] = update.error_code[:40] or "undelivered"
        fields["error_reason"] = (
            update.error_reason or f"The provider reported {update.raw_status or 'failure'}."
        )[:500]
    elif new != S.FAILED:
        fields["error_code"], fields["error_reason"] = "", ""
    return fields


@transaction.atomic
def statuses_apply(
    *, channel: Channel, updates: list[StatusUpdate], now: dt.datetime, source: str = "receipt"
) -> dict[str, int]:
    """Apply receipts for this channel's messages. Returns counts: applied, ignored, unknown."""
    counts = {"applied": 0, "ignored": 0, "unknown": 0}
    ids = {u.provider_message_id for u in updates if u.provider_message_id}
    refs = {u.reference for u in updates if u.reference}
    found: dict[str, Message] = {}
    if ids:
        for m in Message.objects.filter(channel=channel, provider_message_id__in=ids, direction="out"):
            found[f"id:{m.provider_message_id}"] = m
    if refs:
        for m in Message.objects.filter(
            workspace_id=channel.workspace_id, reference__in=refs, direction="out"
        ):
            found[f"ref:{m.reference}"] = m
    simple: dict[str, list[tuple[Message, StatusUpdate]]] = {}
    events: list[MessageStatusEvent] = []
    changed: list[tuple[Message, str]] = []
    failed: list[Message] = []
    for update in updates:
        message = found.get(f"id:{update.provider_message_id}") or found.get(f"ref:{update.reference}")
        at = update.at or now
        if message is None:
            counts["unknown"] += 1
            log.info("receipt for an unknown message on channel %s: %s", channel.pk, update)
            continue
        if update.status not in RECEIPT_STATUSES:
            counts["ignored"] += 1
            continue
        ok = applicable(message.status, message.error_code, update.status)
        detail = f"{update.raw_status or update.status}" + (
            f": {update.error_reason}" if update.error_reason else ""
        )
        events.append(
            MessageStatusEvent(
                message=message,
                status=update.status,
                at=at,
                source=source,
                applied=ok,
                error_code=update.error_code[:40],
                detail=(detail if ok else f"ignored ({message.status} already): {detail}")[:500],
            )
        )
        if not ok:
            counts["ignored"] += 1
            continue
        counts["applied"] += 1
        needs_row = (
            update.status == S.FAILED
            or update.cost is not None
            or (message.provider_message_id is None and update.provider_message_id)
        )
        if needs_row:
            fields = _fields_for(update.status, at, update)
            if update.cost is not None:
                fields["cost"], fields["cost_currency"] = update.cost, update.cost_currency[:3]
            if message.provider_message_id is None and update.provider_message_id:
                fields["provider_message_id"] = update.provider_message_id
            Message.objects.filter(_where_applicable(update.status), pk=message.pk).update(**fields)
            if update.status == S.FAILED:
                failed.append(message)
        else:
            simple.setdefault(update.status, []).append((message, update))
        message.status = update.status
        changed.append((message, update.status))
    for new, items in simple.items():
        at = max(u.at or now for _, u in items)
        Message.objects.filter(_where_applicable(new), pk__in=[m.pk for m, _ in items]).update(
            **_fields_for(new, at)
        )
    MessageStatusEvent.objects.bulk_create(events, batch_size=1000)
    for message in failed:
        if message.fallback_chain:
            message.refresh_from_db()
            fallback_next(message=message, now=now, reason=f"failed ({message.error_code})")
    if channel.provider == "sandbox" and changed:
        live.simulator_statuses(channel.workspace_id, changed)
    return counts
