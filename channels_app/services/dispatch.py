"""The dispatcher: hands queued messages to providers in batches, never twice.

One round (`dispatch_batch`):
1. claim: in one short transaction, lock up to N due queued messages (SKIP LOCKED on
   PostgreSQL; SQLite's IMMEDIATE transactions serialise claims), take tokens from each
   channel's shared bucket (row lock, channel-id order), and move the granted messages to
   `sending` with this round's claim token, all set-based;
2. hand over, outside any transaction, each call with a total deadline
   (`CHANNELS_SEND_DEADLINE_S`, which the provider honours): a batch provider gets the whole
   group in one call; a per-message provider gets each message after a conditional update
   stamps `handoff_at` and renews the claim's lease (if the stamp fails, someone else owns the
   message now and it is skipped);
3. record: through the state machine (`transitions`), guarded by `status=sending AND
   claim_token=<ours>`, so a receipt that arrived first is never overwritten; the provider's id
   is kept either way, and receipts kept before the send was recorded are applied in the same
   transaction.

An answer that may hide an accepted message (a timeout after the request was written, a reset,
some 5xx) is `ambiguous`: a provider that honours our reference as an idempotency key gets it
again; any other provider is never asked again: the message becomes `unknown`, with the reason,
until a receipt (or asking the provider) settles it.

A worker killed at any point: messages it claimed stay `sending` until their lease runs out
(the lease is longer than a call's deadline, so a call still in flight is never taken over).
Then `recover_stale` requeues those never handed over, and those handed to an idempotent
provider (it keys on our reference, so a resend is received once); one handed to any other
provider becomes `unknown`.

Between rounds `sweep` applies kept receipts, recovers stale claims, releases deferred messages
whose time has come (asking consent again), starts fallbacks whose receipt did not arrive in time,
lets providers do periodic work (the sandbox's receipts, each batch marked and applied in one
transaction) and asks providers that can about messages whose outcome is unknown."""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q

from cpaas import metrics
from cpaas.loops import DATABASE_ERRORS

from .. import conf, consent_gate, live, sealing, unsubscribe
from ..models import Channel, ChannelBucket, Message
from ..providers import UnknownProvider, all_providers, get_provider
from ..providers.base import Outbound, SendResult
from . import status, transitions
from .fallback import after_blocked, after_failed, fallbacks_due
from .transitions import OUTCOME_UNKNOWN

log = logging.getLogger(__name__)
S = Message.Status
BURST_S = 1.0  # a bucket holds one second of tokens
LEASE_MARGIN_S = 1.0  # a lease outlives the longest call by this much
LOOKUP_EVERY_S = 30.0  # how often unknown outcomes are asked about (providers that can)
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
    "sent_by",
    "text",
    "direction",
    "status",
    "created_at",
    "provider_message_id",
)


def send_deadline_s() -> float:
    return float(conf.get("CHANNELS_SEND_DEADLINE_S"))


def lease_s() -> float:
    """A claim older than this belongs to a worker that died: never shorter than a provider
    call may last, so a call still in flight is not taken over (and marked) by another worker."""
    return max(float(conf.get("CHANNELS_LEASE_S")), send_deadline_s() + LEASE_MARGIN_S)


# --- token buckets ------------------------------------------------------------------------------


def bucket_take(channel_id: int, rate: int, want: int | list[int], now: dt.datetime) -> int:
    """Take tokens from the channel's bucket for the first messages of `want` (a count of
    one-token messages, or each message's cost: its SMS segments where the provider's limit
    counts segments) and return how many messages got theirs; a message is granted whole or not
    at all. Call inside a transaction: the row lock is what makes the rate hold across
    processes. Sets `blocked_until` when short, so claims skip the channel until enough tokens
    have accumulated."""
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
    # a message costing more than the bucket holds waits for a full bucket, never for ever
    costs = [1] * want if isinstance(want, int) else [min(max(1, int(c)), int(capacity)) for c in want]
    granted = 0
    for cost in costs:
        if cost > tokens + 1e-9:
            break
        tokens -= cost
        granted += 1
    blocked_until = None
    if granted < len(costs):
        gather = max(costs[granted], min(sum(costs[granted:]), math.ceil(rate * 0.2)))  # ~0.2 s of tokens
        blocked_until = now + dt.timedelta(seconds=max(0.0, gather - tokens) / rate)
    ChannelBucket.objects.filter(pk=bucket.pk).update(
        tokens=tokens, refilled_at=now, blocked_until=blocked_until
    )
    return granted


# --- claim --------------------------------------------------------------------------------------


def _counts_segments(provider: str, kind: str) -> bool:
    try:
        return get_provider(provider).rate_unit(kind) == "segment"
    except UnknownProvider:
        return False


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
            .values_list("id", "channel_id", "segments")[:limit]
        )
        if not rows:
            return Claim(token, 0)
        by_channel: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for message_id, channel_id, segments in rows:
            by_channel[channel_id].append((message_id, segments))
        channels = {
            pk: (rate, provider, kind)
            for pk, rate, provider, kind in Channel.objects.filter(pk__in=by_channel).values_list(
                "pk", "rate_limit_per_second", "provider", "kind"
            )
        }
        granted: list[int] = []
        for channel_id in sorted(by_channel):  # bucket locks in primary-key order
            rows_of = by_channel[channel_id]
            rate, provider, kind = channels.get(channel_id, (1, "", ""))
            if _counts_segments(provider, kind):  # the limit is in SMS segments (carriers' MPS)
                n = bucket_take(channel_id, rate, [seg for _, seg in rows_of], now)
            else:
                n = bucket_take(channel_id, rate, len(rows_of), now)
            granted.extend(message_id for message_id, _ in rows_of[:n])
        # "sending" is the row's claim (no event: the hot path keeps it on the row)
        transitions.transition(
            ids=granted,
            to=S.SENDING,
            at=now,
            source="dispatcher",
            event=False,
            claim_token=token,
            claimed_at=now,
            handoff_at=None,
            attempts=F("attempts") + 1,
        )
    return Claim(token, len(granted))


# --- hand over and record -----------------------------------------------------------------------


def _outbound(m: Message, channel: Channel, deadline: float = float("inf")) -> Outbound:
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
        deadline=deadline,
        headers=unsubscribe.headers_for(m, (channel.settings or {}).get("reply_to") or channel.address)
        if unsubscribe.wanted(m.kind, m.purpose)
        else {},
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


class _Clock:
    """The round's `now` moved on by the time the round has taken: a lease renewed at a call's
    start must say when that call started, also when the round's `now` is a test's clock."""

    def __init__(self, now: dt.datetime):
        self.now, self.started = now, time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.now + dt.timedelta(seconds=time.monotonic() - self.started)


def _hand_over(provider, channel: Channel, outs: list[Outbound], now: dt.datetime) -> list[SendResult]:
    try:
        if provider.batch:
            return provider.send_batch(channel, outs, now)
        return [provider.send(channel, outs[0])]
    except DATABASE_ERRORS:  # our database (the sandbox writes to it), not the provider: the
        raise  # dispatcher's loop reconnects; the claims come back when their lease runs out
    except Exception as exc:  # a provider bug must not strand messages in `sending`
        log.exception("provider %s failed on a call", provider.name)
        # it may have sent before it broke: ambiguous, never repeated on a non-idempotent provider
        return [SendResult.unknown("provider_error", str(exc)[:300])] * len(outs)


def dispatch_batch(*, now: dt.datetime, limit: int | None = None) -> int:
    """Claim one batch and hand it over. Returns how many messages were claimed."""
    limit = limit or int(conf.get("CHANNELS_DISPATCH_BATCH"))
    claimed = claim(now=now, limit=limit)
    if not claimed.count:
        return 0
    clock = _Clock(now)
    # --- consent at hand-over (owned by consent_gate): refused messages are settled there ---
    claimed_rows = Message.objects.filter(claim_token=claimed.token, status=S.SENDING).only(*SEND_FIELDS)
    messages = list(consent_gate.with_contact_facts(claimed_rows))
    messages = consent_gate.handover(messages, now=now, token=claimed.token)
    # ---
    by_channel: dict[int, list[Message]] = defaultdict(list)
    for m in messages:
        by_channel[m.channel_id].append(m)
    channels = {c.pk: c for c in Channel.objects.filter(pk__in=by_channel)}
    ours = Q(status=S.SENDING, claim_token=claimed.token)
    for channel_id, group in by_channel.items():
        channel = channels[channel_id]
        if not channel.is_active:
            results = [SendResult.failed("channel_disabled", f"{channel.name} was disabled.")] * len(group)
            record(channel=channel, messages=group, results=results, now=now, token=claimed.token)
            continue
        provider = get_provider(channel.provider)
        if provider.batch:
            if not provider.idempotent:
                started = clock()
                Message.objects.filter(ours, pk__in=[m.pk for m in group]).update(
                    handoff_at=started, claimed_at=started
                )
            deadline = time.monotonic() + send_deadline_s()
            outs = [_outbound(m, channel, deadline) for m in group]
            results = _hand_over(provider, channel, outs, now)
            record(channel=channel, messages=group, results=results, now=now, token=claimed.token)
            continue
        for m in group:
            started = clock()
            # the stamp renews the lease: the call may last the deadline, the lease is longer
            if not Message.objects.filter(ours, pk=m.pk).update(handoff_at=started, claimed_at=started):
                continue  # no longer ours (recovered by another worker, or a receipt came first)
            out = _outbound(m, channel, time.monotonic() + send_deadline_s())
            [result] = _hand_over(provider, channel, [out], now)
            record(channel=channel, messages=[m], results=[result], now=now, token=claimed.token)
    return claimed.count


def _unclaimed_ids(
    provider, channel: Channel, messages: list[Message], results: list[SendResult]
) -> list[SendResult]:
    """An acceptance whose provider id already belongs to another message of the channel (a
    provider or a proxy replaying an old answer) says nothing sure about this message: it becomes
    ambiguous, never a crash on the unique (channel, provider id). Ids that are our own
    references (`adopts_reference`) are unique by construction and skip the query."""
    ids = [r.provider_message_id for r in results if r.ok and r.provider_message_id]
    if not ids or provider.adopts_reference:
        return results
    ours = {m.pk for m in messages}
    taken = set(
        Message.objects.filter(channel=channel, provider_message_id__in=ids)
        .exclude(pk__in=ours)
        .values_list("provider_message_id", flat=True)
    )
    seen: set[str] = set()
    out = []
    for r in results:
        pid = r.provider_message_id if r.ok else None
        if pid and (pid in taken or pid in seen):
            r = SendResult.unknown(
                "duplicate_id",
                f"{provider.label} accepted it with the id {pid[:60]}, which another message already has",
            )
        elif pid:
            seen.add(pid)
        out.append(r)
    return out


@transaction.atomic
def record(*, channel: Channel, messages: list[Message], results: list[SendResult], now, token: str) -> None:
    """Record the provider's answers through the state machine, guarded by our claim."""
    provider = get_provider(channel.provider)
    ours = Q(status=S.SENDING, claim_token=token)
    max_attempts = int(conf.get("CHANNELS_MAX_ATTEMPTS"))
    sent: list[Message] = []
    bulk_ok: list[int] = []
    failed: list[int] = []
    results = _unclaimed_ids(provider, channel, messages, results)
    for m, r in zip(messages, results, strict=True):
        outcome = "accepted" if r.ok else "unknown" if r.ambiguous else "retry" if r.transient else "failed"
        metrics.dispatch_result(kind=channel.kind, provider=provider.name, outcome=outcome, code=r.error_code)
        if not r.ok:  # the provider's words may quote the number or the text: cpaas.logs masks them
            log.info("message %s on channel %s (%s) not accepted: %s %s", m.pk, channel.pk, provider.name,
                     r.error_code, r.error_reason)  # fmt: skip
        if r.ok:
            sent.append(m)
            if (
                provider.adopts_reference
                and r.provider_message_id == m.reference
                and r.cost is None
                and not m.fallback_chain
            ):
                bulk_ok.append(m.pk)
                continue
            extra = {"provider_message_id": r.provider_message_id}
            if r.cost is not None:
                extra["cost"], extra["cost_currency"] = r.cost, r.cost_currency[:3]
            if m.fallback_chain and m.fallback_after_s:
                extra["fallback_deadline"] = now + dt.timedelta(seconds=m.fallback_after_s)
            # ours, or one a recovery marked unknown while this call was still answering
            done = transitions.transition(
                ids=[m.pk],
                to=S.SENT,
                at=now,
                source="dispatcher",
                guard=ours | Q(status=S.UNKNOWN),
                detail=f"accepted by {provider.label}",
                **extra,
            )
            if not done and r.provider_message_id:
                # a receipt came first and moved it on: the provider's id is still ours to keep
                Message.objects.filter(pk=m.pk, provider_message_id__isnull=True).update(
                    provider_message_id=r.provider_message_id
                )
            m.provider_message_id = r.provider_message_id
        elif r.ambiguous and not provider.idempotent:
            transitions.transition(
                ids=[m.pk],
                to=S.UNKNOWN,
                at=now,
                source="dispatcher",
                guard=ours,
                error=(r.error_code or OUTCOME_UNKNOWN, _unknown_reason(provider, r)),
                detail=f"attempt {m.attempts}: {r.error_reason}; not sent again"[:500],
                provider_message_id=r.provider_message_id,
            )
        elif r.transient and m.attempts < max_attempts:
            delay = backoff_s(m.attempts, r.retry_after_s)
            transitions.transition(
                ids=[m.pk],
                to=S.QUEUED,
                at=now,
                source="dispatcher",
                guard=ours,
                error=(r.error_code, r.error_reason),
                detail=f"attempt {m.attempts} failed ({r.error_reason}); retry in {delay:.1f}s",
                due_at=now + dt.timedelta(seconds=delay),
            )
        else:
            reason = r.error_reason
            if r.transient:
                reason = f"gave up after {m.attempts} attempts: {r.error_reason}"
            if transitions.transition(
                ids=[m.pk],
                to=S.FAILED,
                at=now,
                source="dispatcher",
                guard=ours,
                error=(r.error_code or "failed", reason),
                detail=reason,
            ):
                failed.append(m.pk)
    if bulk_ok:
        # The bulk path's "sent" is the row's sent_at (selectors.message_history shows it): one
        # insert less per message on the hot path. Its provider id is our reference.
        transitions.transition(
            ids=bulk_ok,
            to=S.SENT,
            at=now,
            source="dispatcher",
            guard=ours,
            event=False,
            provider_message_id=F("reference"),
        )
    # cap places reserved at hand-over go back for what did not go (an unknown outcome keeps its
    # place: it may have gone)
    consent_gate.sends_released(
        [
            m
            for m, r in zip(messages, results, strict=True)
            if not r.ok and not (r.ambiguous and not provider.idempotent)
        ]
    )
    if sent:
        status.pending_receipts_apply(now=now, channel=channel, messages=sent)
    after_failed(failed, now=now)
    sealing.sealed_spent([m.pk for m in messages if m.sealed])  # secrets no send needs any more
    if sent:
        consent_gate.sends_recorded(sent, now)
        if provider.simulator:
            live.simulator_messages(channel.workspace_id, sent)
    live.person_states(channel.workspace_id, messages)


def _unknown_reason(provider, r: SendResult) -> str:
    how = "asked about it" if provider.can_lookup else "settled by its delivery receipt"
    return (
        f"{r.error_reason} The message may or may not have reached {provider.label}; it is not "
        f"sent again (that could send it twice). It will be {how}."
    )[:500]


# --- sweeps -------------------------------------------------------------------------------------


def recover_stale(*, now: dt.datetime, limit: int = 1000) -> int:
    """Claims older than the lease belong to a worker that died (or hangs)."""
    expired = Q(status=S.SENDING, claimed_at__lt=now - dt.timedelta(seconds=lease_s()))
    if not Message.objects.filter(expired).exists():
        return 0
    with transaction.atomic():
        stale = list(
            Message.objects.filter(expired)
            .select_for_update(skip_locked=True)
            .values_list("id", "channel_id", "handoff_at")[:limit]
        )
        if not stale:
            return 0
        providers = dict(
            Channel.objects.filter(pk__in={row[1] for row in stale}).values_list("pk", "provider")
        )
        requeue, unknown = [], []
        for message_id, channel_id, handoff_at in stale:
            if handoff_at is None or get_provider(providers[channel_id]).idempotent:
                requeue.append(message_id)
            else:
                unknown.append(message_id)
        transitions.transition(
            ids=requeue,
            to=S.QUEUED,
            at=now,
            source="recovery",
            guard=expired,
            detail="its worker stopped before finishing; sent again with the same reference",
            due_at=now,
        )
        transitions.transition(
            ids=unknown,
            to=S.UNKNOWN,
            at=now,
            source="recovery",
            guard=expired,
            error=(
                OUTCOME_UNKNOWN,
                "The worker stopped while handing this message to the provider. It is not sent "
                "again, to avoid a double send; a later receipt from the provider settles it.",
            ),
            detail="its worker stopped during the provider call; not sent again",
        )
    log.warning(
        "recovered %s stale messages (%s requeued, %s outcome unknown)",
        len(stale),
        len(requeue),
        len(unknown),
    )
    return len(stale)


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
            groups[(m.kind, m.purpose, "template" in m.content, m.sent_by)].append(m)
        allowed, blocked = [], []
        for (kind, purpose, is_template, sent_by), group in groups.items():
            verdicts = consent_gate.check_many(
                [m.contact for m in group], kind, purpose, now, is_template=is_template, sent_by=sent_by
            )
            for m in group:
                v = verdicts[m.contact_id]
                if v.outcome == "allow":
                    allowed.append(m.pk)
                elif v.outcome == "defer":
                    until = (
                        v.defer_until
                        if v.defer_until and v.defer_until > now
                        else now + dt.timedelta(seconds=60)
                    )
                    Message.objects.filter(pk=m.pk).update(
                        due_at=until, consent_rule=v.rule[:60], consent_reason=v.reason[:500]
                    )
                    transitions.note(
                        message_id=m.pk,
                        status=S.DEFERRED,
                        at=now,
                        source="consent",
                        detail=f"still deferred until {until.isoformat()}: {v.reason}",
                    )
                elif transitions.transition(
                    ids=[m.pk],
                    to=S.BLOCKED,
                    at=now,
                    source="consent",
                    error=("consent", v.reason),
                    event_code=v.rule,
                    detail=v.reason,
                    consent_outcome=v.outcome,
                    consent_rule=v.rule[:60],
                    consent_reason=v.reason[:500],
                ):
                    m.status = S.BLOCKED
                    blocked.append(m)
        transitions.transition(
            ids=allowed,
            to=S.QUEUED,
            at=now,
            source="consent",
            detail="released: now allowed",
            due_at=now,
            consent_outcome="allow",
        )
        after_blocked(blocked, now=now)
    return len(due)


def receipts_tick(*, now: dt.datetime) -> int:
    """Providers' periodic work (the sandbox's receipts). What a provider marks as sent is
    applied by `apply` inside the same transaction: a crash in between loses nothing."""

    def apply(channel_id: int, updates) -> None:
        channel = Channel.objects.get(pk=channel_id)
        status.statuses_apply(channel=channel, updates=updates, now=now, source="receipt")

    return sum(provider.tick(now, apply) for provider in all_providers())


_last_lookup = [0.0]


def unknown_resolve(*, now: dt.datetime, limit: int = 50) -> int:
    """Ask providers that can (an id to look up, an API to ask) what became of messages whose
    outcome is unknown. Outside any transaction: these are network calls."""
    if time.monotonic() - _last_lookup[0] < LOOKUP_EVERY_S:
        return 0
    _last_lookup[0] = time.monotonic()
    names = [p.name for p in all_providers() if p.can_lookup]
    rows = list(
        Message.objects.filter(
            status=S.UNKNOWN, provider_message_id__isnull=False, channel__provider__in=names
        )
        .select_related("channel")
        .order_by("status_changed_at")[:limit]
    )
    settled = 0
    for m in rows:
        try:
            update = get_provider(m.channel.provider).lookup(
                m.channel, m.provider_message_id, time.monotonic() + send_deadline_s()
            )
        except Exception:
            log.exception("asking %s about message %s failed", m.channel.provider, m.pk)
            continue
        if update is not None:
            status.statuses_apply(channel=m.channel, updates=[update], now=now, source="lookup")
            settled += 1
    return settled


def sweep(*, now: dt.datetime) -> int:
    return (
        status.pending_receipts_apply(now=now)
        + recover_stale(now=now)
        + deferred_release(now=now)
        + receipts_tick(now=now)
        + fallbacks_due(now=now)
        + unknown_resolve(now=now)
    )


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
