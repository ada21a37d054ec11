"""The dispatcher: hands queued messages to providers in batches, never twice.

One round (`dispatch_batch`):
1. claim: in one short transaction, lock up to N due queued messages (SKIP LOCKED on
   PostgreSQL; SQLite's IMMEDIATE transactions serialise claims), take tokens from each
   channel's shared bucket (row lock, channel-id order), and move the granted messages to
   `sending` with this round's claim token, all set-based;
2. hand over, outside any transaction: a batch provider gets the whole group in one call; a
   per-message provider gets each message after a conditional update stamps `handoff_at`
   (if the stamp fails, someone else owns the message now and it is skipped);
3. record: set-based updates guarded by `status=sending AND claim_token=<ours>`, so a receipt
   that arrived first is never overwritten.

A worker killed at any point: messages it claimed stay `sending` until their lease runs out.
Then `recover_stale` requeues those never handed over, and those handed to an idempotent
provider (it keys on our reference, so a resend is received once). A message handed to a
provider without idempotency is never sent again: it is marked failed with `outcome_unknown`,
which a later receipt can still settle.

Between rounds `sweep` releases deferred messages whose time has come (asking consent again),
starts fallbacks whose receipt did not arrive in time, recovers stale claims and lets providers
do periodic work (the sandbox's receipts)."""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import secrets
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

from .. import conf, consent_gate, live, sealing
from ..models import Channel, ChannelBucket, Message, MessageStatusEvent
from ..providers import all_providers, get_provider
from ..providers.base import Outbound, SendResult
from .messages import fallback_next, status_event
from .status import OUTCOME_UNKNOWN

log = logging.getLogger(__name__)
S = Message.Status
BURST_S = 1.0  # a bucket holds one second of tokens
SEND_FIELDS = (
    "id",
    "workspace_id",
    "contact_id",
    "channel_id",
    "kind",
    "reference",
    "address",
    "content",
    "sealed",
    "options",
    "attempts",
    "fallback_chain",
    "fallback_after_s",
    "purpose",
    "text",
    "direction",
    "status",
    "created_at",
)


# --- token buckets ------------------------------------------------------------------------------


def bucket_take(channel_id: int, rate: int, want: int, now: dt.datetime) -> int:
    """Take up to `want` tokens from the channel's bucket (call inside a transaction: the row
    lock is what makes the rate hold across processes). Sets `blocked_until` when short, so
    claims skip the channel until enough tokens have accumulated."""
    bucket = ChannelBucket.objects.select_for_update().filter(channel_id=channel_id).first()
    if bucket is None:
        ChannelBucket.objects.get_or_create(channel_id=channel_id, defaults={"tokens": 0, "refilled_at": now})
        bucket = ChannelBucket.objects.select_for_update().get(channel_id=channel_id)
    capacity = max(1.0, rate * BURST_S)
    if bucket.refilled_at is None:
        tokens = capacity
    else:
        elapsed = max(0.0, (now - bucket.refilled_at).total_seconds())
        tokens = min(capacity, bucket.tokens + elapsed * rate)
    granted = min(want, int(tokens + 1e-9))
    tokens -= granted
    blocked_until = None
    if granted < want:
        need = min(want - granted, max(1, math.ceil(rate * 0.2)))  # gather ~0.2 s of tokens
        blocked_until = now + dt.timedelta(seconds=max(0.0, need - tokens) / rate)
    ChannelBucket.objects.filter(pk=bucket.pk).update(
        tokens=tokens, refilled_at=now, blocked_until=blocked_until
    )
    return granted


# --- claim --------------------------------------------------------------------------------------


@dataclass
class Claim:
    token: str
    count: int


def claim(*, now: dt.datetime, limit: int) -> Claim:
    token = secrets.token_hex(8)
    # A plain read first: on SQLite every atomic() takes the write lock (IMMEDIATE), and an idle
    # dispatcher polls often.
    if not Message.objects.filter(status=S.QUEUED, due_at__lte=now).exists():
        return Claim(token, 0)
    with transaction.atomic():
        throttled = ChannelBucket.objects.filter(blocked_until__gt=now).values("channel_id")
        rows = list(
            Message.objects.filter(status=S.QUEUED, due_at__lte=now)
            .exclude(channel_id__in=throttled)
            .order_by("due_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("id", "channel_id")[:limit]
        )
        if not rows:
            return Claim(token, 0)
        by_channel: dict[int, list[int]] = defaultdict(list)
        for message_id, channel_id in rows:
            by_channel[channel_id].append(message_id)
        rates = dict(Channel.objects.filter(pk__in=by_channel).values_list("pk", "rate_limit_per_second"))
        granted: list[int] = []
        for channel_id in sorted(by_channel):  # bucket locks in primary-key order
            ids = by_channel[channel_id]
            n = bucket_take(channel_id, rates.get(channel_id, 1), len(ids), now)
            granted.extend(ids[:n])
        if granted:
            Message.objects.filter(pk__in=granted).update(
                status=S.SENDING,
                status_changed_at=now,
                claim_token=token,
                claimed_at=now,
                handoff_at=None,
                attempts=F("attempts") + 1,
            )
    return Claim(token, len(granted))


# --- hand over and record -----------------------------------------------------------------------


def _outbound(m: Message, channel: Channel) -> Outbound:
    return Outbound(
        message_id=m.pk,
        reference=m.reference,
        kind=m.kind,
        to=m.address,
        from_=channel.address,
        content=sealing.unsealed(m.content, m.sealed),  # an OTP code reaches the provider only
        attempt=m.attempts,
        options=m.options,
        status_callback_url=status_callback_url(channel, m.reference),
    )


def status_callback_url(channel: Channel, reference: str) -> str:
    base = str(conf.get("CHANNELS_PUBLIC_URL")).rstrip("/")
    return f"{base}/webhooks/{channel.provider}/{channel.webhook_token}/status/?ref={reference}"


def backoff_s(attempt: int, retry_after_s: float | None = None) -> float:
    """Exponential backoff with jitter: base * 2^(attempt-1), then a random 50-100 % of it;
    never sooner than the provider's Retry-After."""
    base = float(conf.get("CHANNELS_RETRY_BASE_S"))
    ceiling = float(conf.get("CHANNELS_RETRY_MAX_S"))
    delay = min(ceiling, base * 2 ** max(0, attempt - 1))
    delay = delay * (0.5 + random.random() / 2)
    if retry_after_s:
        delay = max(delay, float(retry_after_s))
    return delay


def dispatch_batch(*, now: dt.datetime, limit: int | None = None) -> int:
    """Claim one batch and hand it over. Returns how many messages were claimed."""
    limit = limit or int(conf.get("CHANNELS_DISPATCH_BATCH"))
    claimed = claim(now=now, limit=limit)
    if not claimed.count:
        return 0
    messages = list(Message.objects.filter(claim_token=claimed.token, status=S.SENDING).only(*SEND_FIELDS))
    by_channel: dict[int, list[Message]] = defaultdict(list)
    for m in messages:
        by_channel[m.channel_id].append(m)
    channels = {c.pk: c for c in Channel.objects.filter(pk__in=by_channel)}
    for channel_id, group in by_channel.items():
        channel = channels[channel_id]
        if not channel.is_active:
            results = [SendResult.failed("channel_disabled", f"{channel.name} was disabled.")] * len(group)
            record(channel=channel, messages=group, results=results, now=now, token=claimed.token)
            continue
        provider = get_provider(channel.provider)
        if provider.batch:
            if not provider.idempotent:
                Message.objects.filter(pk__in=[m.pk for m in group], claim_token=claimed.token).update(
                    handoff_at=now
                )
            try:
                results = provider.send_batch(channel, [_outbound(m, channel) for m in group], now)
            except Exception as exc:  # a provider bug must not strand the batch in `sending`
                log.exception("provider %s failed on a batch", channel.provider)
                results = [SendResult.retry("provider_error", str(exc)[:300])] * len(group)
            record(channel=channel, messages=group, results=results, now=now, token=claimed.token)
            continue
        for m in group:
            stamped = Message.objects.filter(pk=m.pk, status=S.SENDING, claim_token=claimed.token).update(
                handoff_at=now
            )
            if not stamped:
                continue  # no longer ours (recovered by another worker, or a receipt came first)
            try:
                result = provider.send(channel, _outbound(m, channel))
            except Exception as exc:
                log.exception("provider %s failed on message %s", channel.provider, m.pk)
                result = SendResult.retry("provider_error", str(exc)[:300])
            record(channel=channel, messages=[m], results=[result], now=now, token=claimed.token)
    return claimed.count


@transaction.atomic
def record(*, channel: Channel, messages: list[Message], results: list[SendResult], now, token: str) -> None:
    provider = get_provider(channel.provider)
    ours = {"status": S.SENDING, "claim_token": token}
    events: list[MessageStatusEvent] = []
    sent: list[Message] = []
    bulk_ok: list[Message] = []
    max_attempts = int(conf.get("CHANNELS_MAX_ATTEMPTS"))
    failed: list[Message] = []
    for m, r in zip(messages, results, strict=True):
        if r.ok:
            sent.append(m)
            if (
                provider.adopts_reference
                and r.provider_message_id == m.reference
                and r.cost is None
                and not m.fallback_chain
            ):
                bulk_ok.append(m)
                continue
            fields = {
                "status": S.SENT,
                "status_changed_at": now,
                "sent_at": now,
                "provider_message_id": r.provider_message_id,
                "claim_token": "",
                "error_code": "",
                "error_reason": "",
            }
            if r.cost is not None:
                fields["cost"], fields["cost_currency"] = r.cost, r.cost_currency[:3]
            if m.fallback_chain and m.fallback_after_s:
                fields["fallback_deadline"] = now + dt.timedelta(seconds=m.fallback_after_s)
            Message.objects.filter(pk=m.pk, **ours).update(**fields)
        elif r.transient and m.attempts < max_attempts:
            delay = backoff_s(m.attempts, r.retry_after_s)
            Message.objects.filter(pk=m.pk, **ours).update(
                status=S.QUEUED,
                status_changed_at=now,
                due_at=now + dt.timedelta(seconds=delay),
                claim_token="",
                error_code=r.error_code[:40],
                error_reason=r.error_reason[:500],
            )
            events.append(
                status_event(
                    m,
                    S.QUEUED,
                    now,
                    "dispatcher",
                    error_code=r.error_code[:40],
                    detail=f"attempt {m.attempts} failed ({r.error_reason}); retry in {delay:.1f}s"[:500],
                )
            )
        else:
            reason = r.error_reason
            if r.transient:
                reason = f"gave up after {m.attempts} attempts: {r.error_reason}"
            Message.objects.filter(pk=m.pk, **ours).update(
                status=S.FAILED,
                status_changed_at=now,
                failed_at=now,
                claim_token="",
                error_code=r.error_code[:40] or "failed",
                error_reason=reason[:500],
            )
            events.append(
                status_event(
                    m, S.FAILED, now, "dispatcher", error_code=r.error_code[:40], detail=reason[:500]
                )
            )
            failed.append(m)
    if bulk_ok:
        Message.objects.filter(pk__in=[m.pk for m in bulk_ok], **ours).update(
            status=S.SENT,
            status_changed_at=now,
            sent_at=now,
            provider_message_id=F("reference"),
            claim_token="",
            error_code="",
            error_reason="",
        )
    bulk_ids = {m.pk for m in bulk_ok}
    for m in sent:
        # The bulk path's "sent" is the row's sent_at (selectors.message_history shows it): one
        # insert less per message on the hot path.
        if m.pk not in bulk_ids:
            events.append(status_event(m, S.SENT, now, "dispatcher", detail=f"accepted by {provider.label}"))
        m.status = S.SENT
    MessageStatusEvent.objects.bulk_create(events, batch_size=1000)
    for m in failed:
        if m.fallback_chain:
            m.status = S.FAILED
            fallback_next(
                message=Message.objects.get(pk=m.pk), now=now, reason=f"failed ({m.error_code or 'error'})"
            )
    sealing.sealed_spent([m.pk for m in messages if m.sealed])  # secrets no send needs any more
    if sent:
        consent_gate.sends_recorded(sent, now)
        if channel.provider == "sandbox":
            live.simulator_messages(channel.workspace_id, sent)


# --- sweeps -------------------------------------------------------------------------------------


def recover_stale(*, now: dt.datetime, limit: int = 1000) -> int:
    """Claims older than the lease belong to a worker that died (or hangs)."""
    lease = dt.timedelta(seconds=float(conf.get("CHANNELS_LEASE_S")))
    if not Message.objects.filter(status=S.SENDING, claimed_at__lt=now - lease).exists():
        return 0
    with transaction.atomic():
        stale = list(
            Message.objects.filter(status=S.SENDING, claimed_at__lt=now - lease)
            .select_for_update(skip_locked=True)
            .values_list("id", "channel_id", "handoff_at", "claim_token")[:limit]
        )
        if not stale:
            return 0
        providers = dict(
            Channel.objects.filter(pk__in={row[1] for row in stale}).values_list("pk", "provider")
        )
        requeue, unknown = [], []
        for message_id, channel_id, handoff_at, _ in stale:
            provider = get_provider(providers[channel_id])
            if handoff_at is None or provider.idempotent:
                requeue.append(message_id)
            else:
                unknown.append(message_id)
        if requeue:
            Message.objects.filter(pk__in=requeue, status=S.SENDING).update(
                status=S.QUEUED, status_changed_at=now, due_at=now, claim_token="", handoff_at=None
            )
        if unknown:
            Message.objects.filter(pk__in=unknown, status=S.SENDING).update(
                status=S.FAILED,
                status_changed_at=now,
                failed_at=now,
                claim_token="",
                error_code=OUTCOME_UNKNOWN,
                error_reason="The worker stopped while handing this message to the provider. It is not sent "
                "again, to avoid a double send; a later receipt from the provider still updates it.",
            )
        events = [
            MessageStatusEvent(
                message_id=i,
                status=S.QUEUED,
                at=now,
                source="recovery",
                detail="its worker stopped before finishing; sent again with the same reference",
            )
            for i in requeue
        ] + [
            MessageStatusEvent(
                message_id=i,
                status=S.FAILED,
                at=now,
                source="recovery",
                error_code=OUTCOME_UNKNOWN,
                detail="its worker stopped during the provider call; not sent again",
            )
            for i in unknown
        ]
        MessageStatusEvent.objects.bulk_create(events)
        # a fallback chain still runs if no receipt settles it in time
        for m in Message.objects.filter(pk__in=unknown).exclude(fallback_chain=[]):
            if m.fallback_after_s:
                Message.objects.filter(pk=m.pk).update(
                    fallback_deadline=now + dt.timedelta(seconds=m.fallback_after_s)
                )
    if requeue or unknown:
        log.warning(
            "recovered %s stale messages (%s requeued, %s outcome unknown)",
            len(stale),
            len(requeue),
            len(unknown),
        )
    return len(stale)


def fallbacks_due(*, now: dt.datetime, limit: int = 200) -> int:
    """Messages that had no delivery receipt within their fallback time go out on the next kind."""
    done = 0
    if not Message.objects.filter(fallback_deadline__lte=now).exists():
        return 0
    with transaction.atomic():
        due = list(
            Message.objects.filter(fallback_deadline__lte=now)
            .select_for_update(skip_locked=True)
            .select_related("workspace", "contact")[:limit]
        )
        for m in due:
            if m.status in (S.DELIVERED, S.READ):
                Message.objects.filter(pk=m.pk).update(fallback_deadline=None, sealed="")
                continue
            fallback_next(message=m, now=now, reason=f"no delivery receipt within {m.fallback_after_s}s")
            done += 1
    return done


def deferred_release(*, now: dt.datetime, limit: int = 500) -> int:
    """Deferred messages whose time has come ask consent again: allowed ones are queued."""
    if not Message.objects.filter(status=S.DEFERRED, due_at__lte=now).exists():
        return 0
    with transaction.atomic():
        due = list(
            Message.objects.filter(status=S.DEFERRED, due_at__lte=now)
            .select_for_update(skip_locked=True)
            .select_related("contact")[:limit]
        )
        if not due:
            return 0
        groups: dict[tuple, list[Message]] = defaultdict(list)
        for m in due:
            groups[(m.kind, m.purpose, "template" in m.content)].append(m)
        allowed, events, blocked = [], [], []
        for (kind, purpose, is_template), group in groups.items():
            verdicts = consent_gate.check_many(
                [m.contact for m in group], kind, purpose, now, is_template=is_template
            )
            for m in group:
                v = verdicts[m.contact_id]
                if v.outcome == "allow":
                    allowed.append(m.pk)
                    events.append(status_event(m, S.QUEUED, now, "consent", detail="released: now allowed"))
                elif v.outcome == "defer":
                    until = (
                        v.defer_until
                        if v.defer_until and v.defer_until > now
                        else now + dt.timedelta(seconds=60)
                    )
                    Message.objects.filter(pk=m.pk).update(
                        due_at=until, consent_rule=v.rule[:60], consent_reason=v.reason[:500]
                    )
                    events.append(
                        status_event(
                            m,
                            S.DEFERRED,
                            now,
                            "consent",
                            applied=False,
                            detail=f"still deferred until {until.isoformat()}: {v.reason}"[:500],
                        )
                    )
                else:
                    Message.objects.filter(pk=m.pk, status=S.DEFERRED).update(
                        status=S.BLOCKED,
                        status_changed_at=now,
                        failed_at=now,
                        error_code="consent",
                        error_reason=v.reason[:500],
                        consent_outcome=v.outcome,
                        consent_rule=v.rule[:60],
                        consent_reason=v.reason[:500],
                    )
                    events.append(
                        status_event(
                            m, S.BLOCKED, now, "consent", error_code=v.rule[:40], detail=v.reason[:500]
                        )
                    )
                    blocked.append(m)
        if allowed:
            Message.objects.filter(pk__in=allowed, status=S.DEFERRED).update(
                status=S.QUEUED, status_changed_at=now, due_at=now, consent_outcome="allow"
            )
        MessageStatusEvent.objects.bulk_create(events)
        for m in blocked:
            if m.fallback_chain:
                m.status = S.BLOCKED
                fallback_next(message=m, now=now, reason="blocked")
    return len(due)


def sweep(*, now: dt.datetime) -> int:
    done = recover_stale(now=now) + deferred_release(now=now) + fallbacks_due(now=now)
    for provider in all_providers():
        done += provider.tick(now)
    return done


def dispatch_pending(*, now: dt.datetime, rounds: int = 100) -> int:
    """Everything due at `now`, until nothing is left (tests; CHANNELS_DISPATCH_INLINE)."""
    total = 0
    for _ in range(rounds):
        n = dispatch_batch(now=now)
        n += sweep(now=now)
        total += n
        if not n:
            break
    return total
