"""Delivery receipts: matched by the provider's message id or by our own reference, applied in
any order through the state machine (`transitions`: a status only moves forward, a late "sent"
never overwrites "delivered", "failed" after "delivered" is not believed, and `unknown` is
settled by whatever the receipt says). Every receipt is kept in the history, applied or not.

A receipt whose message cannot be found yet (it came before the dispatcher recorded the send,
so its provider id is on no message) is kept as a PendingReceipt and applied in the same
transaction that records the send, or by the dispatcher's next sweep: never dropped."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from django.db import transaction
from django.db.models import Q

from contacts.models import Contact
from contacts.services import event_record

from .. import consent_gate, live
from ..models import Channel, Message, PendingReceipt
from ..providers import get_provider
from ..providers.base import StatusUpdate
from . import transitions
from .fallback import after_failed
from .transitions import OUTCOME_UNKNOWN, allowed  # noqa: F401  (OUTCOME_UNKNOWN: tests, API)

log = logging.getLogger(__name__)

S = Message.Status
RECEIPT_STATUSES = frozenset({S.SENT, S.DELIVERED, S.READ, S.FAILED})
PENDING_KEEP = dt.timedelta(days=7)  # a receipt no message claims in a week is not ours


# what applying a receipt reads of a message (not its content: a tick applies a thousand)
MATCH_FIELDS = (
    "id",
    "workspace_id",
    "contact_id",
    "channel_id",
    "status",
    "reference",
    "provider_message_id",
    "fallback_chain",
    "fallback_after_s",
    "sent_by",
    "purpose",
)


def _match(channel: Channel, updates: list[StatusUpdate]) -> dict[str, Message]:
    """Messages by `id:<provider id>` and `ref:<reference>`; the reference is only looked up
    for receipts the provider's id did not find (one query when the ids are known)."""
    ids = {u.provider_message_id for u in updates if u.provider_message_id}
    found: dict[str, Message] = {}
    if ids:
        for m in Message.objects.filter(channel=channel, provider_message_id__in=ids, direction="out").only(
            *MATCH_FIELDS
        ):
            found[f"id:{m.provider_message_id}"] = m
    refs = {u.reference for u in updates if u.reference and f"id:{u.provider_message_id}" not in found}
    if refs:
        for m in Message.objects.filter(
            workspace_id=channel.workspace_id, reference__in=refs, direction="out"
        ).only(*MATCH_FIELDS):
            found[f"ref:{m.reference}"] = m
    return found


def _detail(update: StatusUpdate) -> str:
    return f"{update.raw_status or update.status}" + (
        f": {update.error_reason}" if update.error_reason else ""
    )


def _apply_one(message: Message, update: StatusUpdate, at: dt.datetime, source: str) -> bool:
    extra = {}
    if update.cost is not None:
        extra["cost"], extra["cost_currency"] = update.cost, update.cost_currency[:3]
    if not message.provider_message_id and update.provider_message_id:
        extra["provider_message_id"] = update.provider_message_id[:100]
    if update.status == S.SENT and message.fallback_chain and message.fallback_after_s:
        # sent by the receipt (the dispatcher's own record came later, or the outcome was
        # unknown): the time to wait for delivery starts now
        extra["fallback_deadline"] = at + dt.timedelta(seconds=message.fallback_after_s)
    error = None
    if update.status == S.FAILED:
        error = (
            update.error_code or "undelivered",
            update.error_reason or f"The provider reported {update.raw_status or 'failure'}.",
        )
    done = transitions.transition(
        ids=[message.pk],
        to=update.status,
        at=at,
        source=source,
        error=error,
        detail=_detail(update),
        event_code=update.error_code,
        **extra,
    )
    return bool(done)


def _apply(
    channel: Channel, pairs: list[tuple[Message, StatusUpdate]], now: dt.datetime, source: str
) -> dict:
    counts = {"applied": 0, "ignored": 0}
    changed: list[tuple[Message, str]] = []
    failed: list[int] = []
    simple: dict[tuple, list[Message]] = defaultdict(list)
    ignored: list[tuple[Message, StatusUpdate]] = []
    for message, update in pairs:
        at = update.at or now
        if not allowed(message.status, update.status):
            ignored.append((message, update))
            continue
        needs_row = (
            update.status in (S.FAILED, S.SENT)
            or update.cost is not None
            or (not message.provider_message_id and update.provider_message_id)
        )
        if needs_row:
            ok = _apply_one(message, update, at, source)
            if not ok:
                ignored.append((message, update))
                continue
            if update.status == S.FAILED:
                failed.append(message.pk)
        else:
            simple[(update.status, at, _detail(update), update.error_code)].append(message)
            continue
        counts["applied"] += 1
        message.status = update.status
        changed.append((message, update.status))
    for (status, at, detail, code), group in simple.items():
        done = set(
            transitions.transition(
                ids=[m.pk for m in group], to=status, at=at, source=source, detail=detail, event_code=code
            )
        )
        for m in group:
            if m.pk in done:
                counts["applied"] += 1
                m.status = status
                changed.append((m, status))
            else:
                ignored.append((m, StatusUpdate(status=status, raw_status=detail, error_code=code)))
    for message, update in ignored:
        counts["ignored"] += 1
        transitions.note(
            message_id=message.pk,
            status=update.status,
            at=update.at or now,
            source=source,
            error_code=update.error_code,
            detail=f"ignored ({message.status} already): {_detail(update)}",
        )
    if failed:
        after_failed(failed, now=now)
    if changed and get_provider(channel.provider).simulator:
        live.simulator_statuses(channel.workspace_id, changed)
    live.person_states(channel.workspace_id, [m for m, _ in changed])
    return counts


@transaction.atomic
def statuses_apply(
    *, channel: Channel, updates: list[StatusUpdate], now: dt.datetime, source: str = "receipt"
) -> dict[str, int]:
    """Apply receipts for this channel's messages. Returns counts: applied, ignored, and
    pending (kept until their message's send is recorded)."""
    found = _match(channel, updates)
    pairs, keep = [], []
    ignored = 0
    for update in updates:
        if update.status not in RECEIPT_STATUSES:
            ignored += 1
            continue
        message = found.get(f"id:{update.provider_message_id}") or found.get(f"ref:{update.reference}")
        if message is None:
            keep.append(update)
        else:
            pairs.append((message, update))
    counts = _apply(channel, pairs, now, source)
    _effects(channel, updates, found, now)
    counts["ignored"] += ignored
    if keep:
        log.info("keeping %s receipt(s) on channel %s until their send is recorded", len(keep), channel.pk)
        PendingReceipt.objects.bulk_create(
            [
                PendingReceipt(
                    channel=channel,
                    provider_message_id=u.provider_message_id[:100],
                    reference=u.reference[:32],
                    status=u.status,
                    at=u.at or now,
                    received_at=now,
                    source=source,
                    error_code=u.error_code[:40],
                    error_reason=u.error_reason[:500],
                    cost=u.cost,
                    cost_currency=u.cost_currency[:3],
                    raw_status=u.raw_status[:40],
                )
                for u in keep
            ]
        )
    counts["pending"] = len(keep)
    return counts


SUPPRESS_NOTES = {
    "bounce": "{provider} reported a hard bounce for this address",
    "complaint": "{provider} reported a spam complaint by this address",
}


def _effects(
    channel: Channel, updates: list[StatusUpdate], found: dict[str, Message], now: dt.datetime
) -> None:
    """What a receipt says beyond the message's status, in the receipt's transaction: a hard
    bounce or a complaint suppresses the address (whether or not its message is found: the
    address is what must not be written to again); an unsubscribe through the provider is an
    opt-out of the message's purpose; a call's outcome is an Event `call.answered`,
    `call.no_answer` or `call.busy` that journeys can wait for (keyed by the message, so a
    repeated or late callback records it once)."""
    label = get_provider(channel.provider).label
    for update in updates:
        if update.suppress in SUPPRESS_NOTES and update.address:
            note = SUPPRESS_NOTES[update.suppress].format(provider=label)
            detail = update.error_reason or update.raw_status
            consent_gate.address_suppress(
                workspace=channel.workspace,
                kind=channel.kind,
                address=update.address,
                reason=update.suppress,
                note=f"{note}" + (f": {detail}" if detail else "") + ".",
                at=update.at or now,
            )
    contacts: dict[int, Contact] = {}
    for update in updates:
        message = found.get(f"id:{update.provider_message_id}") or found.get(f"ref:{update.reference}")
        if message is None or not (update.call_outcome or update.opt_out):
            continue
        if message.contact_id not in contacts:
            contacts[message.contact_id] = Contact.objects.select_related("workspace").get(
                pk=message.contact_id
            )
        contact = contacts[message.contact_id]
        if update.call_outcome:
            name = f"call.{update.call_outcome}"
            event_record(
                workspace=contact.workspace,
                contact=contact,
                name=name,
                properties={"message_id": message.pk, "channel": channel.kind, "channel_id": channel.pk},
                occurred_at=update.at or now,
                source="receipt",
                idempotency_key=f"{name}:{message.pk}",
                now=now,
            )
        if update.opt_out:
            consent_gate.unsubscribe(
                contact=contact,
                kind=channel.kind,
                purpose=message.purpose,
                at=update.at or now,
                reason=f"Unsubscribed through {label} (message #{message.pk}).",
                evidence={"notice_text": f"{label} unsubscribe event: {update.raw_status}"[:500]},
            )


def _as_update(p: PendingReceipt) -> StatusUpdate:
    return StatusUpdate(
        status=p.status,
        provider_message_id=p.provider_message_id,
        reference=p.reference,
        at=p.at,
        error_code=p.error_code,
        error_reason=p.error_reason,
        cost=p.cost,
        cost_currency=p.cost_currency,
        raw_status=p.raw_status,
    )


def pending_receipts_apply(
    *, now: dt.datetime, channel: Channel | None = None, messages: list[Message] | None = None
) -> int:
    """Apply kept receipts whose message can be found now. The dispatcher calls it for the
    messages it has just recorded (same transaction), and its sweep for all of them (a receipt
    kept while the send was being recorded). Old ones that no message ever claimed are dropped."""
    if not PendingReceipt.objects.exists():  # nearly always: one cheap query on the hot path
        return 0
    return _pending_apply(now=now, channel=channel, messages=messages)


@transaction.atomic
def _pending_apply(*, now: dt.datetime, channel: Channel | None, messages: list[Message] | None) -> int:
    rows = PendingReceipt.objects.all()
    if messages is not None:
        ids = [m.provider_message_id for m in messages if m.provider_message_id]
        refs = [m.reference for m in messages]
        rows = rows.filter(Q(channel=channel, provider_message_id__in=ids) | Q(reference__in=refs))
    rows = list(rows.select_for_update(skip_locked=True).order_by("at", "id")[:1000])
    by_channel: dict[int, list[PendingReceipt]] = defaultdict(list)
    for p in rows:
        by_channel[p.channel_id].append(p)
    applied = 0
    for ch in Channel.objects.filter(pk__in=by_channel):
        group = by_channel[ch.pk]
        found = _match(ch, [_as_update(p) for p in group])
        done, pairs = [], []
        for p in group:
            message = found.get(f"id:{p.provider_message_id}") or found.get(f"ref:{p.reference}")
            if message is not None:
                pairs.append((message, _as_update(p)))
                done.append(p.pk)
        for message, update in sorted(pairs, key=lambda pair: _rank(pair[1].status)):
            _apply(ch, [(message, update)], now, "receipt")  # in order, each on the fresh status
            message.refresh_from_db(fields=["status", "provider_message_id"])
        PendingReceipt.objects.filter(pk__in=done).delete()
        applied += len(done)
    if messages is None:
        PendingReceipt.objects.filter(received_at__lt=now - PENDING_KEEP).delete()
    return applied


def _rank(status: str) -> int:
    return {S.SENT: 0, S.DELIVERED: 1, S.READ: 2, S.FAILED: 3}.get(status, 9)
