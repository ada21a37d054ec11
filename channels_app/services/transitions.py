"""The message state machine: which status may follow which, and the one function that changes a
message's status. Every status change in the app goes through `transition`, a guarded UPDATE
(`WHERE status IN (allowed sources)`) that writes a status event only for rows it really
changed. Callers name the target and the facts (error, provider id, cost); the status fields
themselves (`status`, `status_changed_at`, `sent_at`...) are built here and nowhere else.

Imports only models: everything that changes a status (send, dispatch, receipts, fallback)
stands on this module, so it can stand on none of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import connections, transaction
from django.db.models import Q, sql

from cpaas import metrics

from ..models import Message, MessageStatusEvent

S = Message.Status

# source -> the statuses it may move to. Receipts may overtake the dispatcher's own record
# (sending -> delivered), or find a message queued for a retry the provider turns out not to need
# (an ambiguous answer from an idempotent provider that had in fact accepted it: the receipt is
# the truth, and a delivered message is not claimed again); `unknown` is a provider call whose
# outcome we could not learn, settled only by a receipt or by asking the provider; failed,
# blocked, read and received end a message.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.QUEUED: frozenset({S.SENDING, S.DEFERRED, S.BLOCKED, S.FAILED, S.SENT, S.DELIVERED, S.READ}),
    S.DEFERRED: frozenset({S.QUEUED, S.BLOCKED}),
    S.SENDING: frozenset({S.SENT, S.QUEUED, S.FAILED, S.UNKNOWN, S.DELIVERED, S.READ, S.DEFERRED, S.BLOCKED}),
    S.UNKNOWN: frozenset({S.SENT, S.DELIVERED, S.READ, S.FAILED}),
    S.SENT: frozenset({S.DELIVERED, S.READ, S.FAILED}),
    S.DELIVERED: frozenset({S.READ}),
    S.READ: frozenset(),
    S.FAILED: frozenset(),
    S.BLOCKED: frozenset(),
    S.RECEIVED: frozenset(),
}
SOURCES: dict[str, frozenset[str]] = {
    target: frozenset(src for src, targets in TRANSITIONS.items() if target in targets) for target in S.values
}
TIME_FIELD = {
    S.SENT: "sent_at",
    S.DELIVERED: "delivered_at",
    S.READ: "read_at",
    S.FAILED: "failed_at",
    S.BLOCKED: "failed_at",
}
# a message in one of these will never go out (again), so nothing about it is pending
ENDED = frozenset({S.DELIVERED, S.READ, S.FAILED, S.BLOCKED})
OUTCOME_UNKNOWN = "outcome_unknown"


def allowed(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, ())


def _fields(to: str, at: dt.datetime, error: tuple[str, str] | None, extra: dict) -> dict:
    fields = {"status": to, "status_changed_at": at}
    if to in TIME_FIELD:
        fields[TIME_FIELD[to]] = at
    if to in (S.FAILED, S.BLOCKED, S.UNKNOWN) or (to == S.QUEUED and error):
        code, reason = error or ("failed", "")
        fields["error_code"], fields["error_reason"] = code[:40], reason[:500]
    else:
        fields["error_code"], fields["error_reason"] = "", ""
    if to != S.SENDING:
        fields["claim_token"] = ""  # leaving `sending` ends the claim
    if to == S.QUEUED:
        fields["handoff_at"] = None
    if to in (S.DELIVERED, S.READ, S.FAILED, S.BLOCKED, S.UNKNOWN):
        # delivered: nothing to fall back from; failed/blocked: the fallback starts now, not
        # later; unknown: a fallback waits for the outcome instead of guessing
        fields["fallback_deadline"] = None
    return {**fields, **extra}


@transaction.atomic(savepoint=False)  # one UPDATE: no savepoint round trips on the hot path
def transition(
    *,
    ids: Iterable[int],
    to: str,
    at: dt.datetime,
    source: str,
    guard: Q | None = None,
    error: tuple[str, str] | None = None,
    detail: str = "",
    event_code: str = "",
    event: bool = True,
    **extra,
) -> list[int]:
    """Move the messages `ids` to `to` where their current status allows it and `guard` holds
    (e.g. `Q(claim_token=ours)`), in one UPDATE. A status event (`source`, `detail`) is written
    for every row that changed, and only for those. `error` is (code, reason) for failed,
    blocked, unknown and a retry; `extra` are the facts that come with the change (provider id,
    cost, due_at...). Returns the ids that changed (with `event=False` and several ids: [] and
    the count is not looked up, for the hot path that keeps its events on the row)."""
    ids = list(ids)
    if not ids:
        return []
    if to not in SOURCES:
        raise ValueError(f"unknown message status {to!r}")
    where = Q(pk__in=ids, status__in=SOURCES[to])
    if guard is not None:
        where &= guard
    fields = _fields(to, at, error, extra)
    if len(ids) == 1 or not event:
        changed = Message.objects.filter(where).update(**fields)
        done = ids if (changed and len(ids) == 1) else []
    else:
        done = _update_returning(where, fields)
    metrics.status_changed(
        status=to, source=source, count=changed if (len(ids) == 1 or not event) else len(done)
    )
    if event and done:
        code = event_code or (
            fields["error_code"] if to in (S.FAILED, S.BLOCKED, S.UNKNOWN, S.QUEUED) else ""
        )
        MessageStatusEvent.objects.bulk_create(
            [
                MessageStatusEvent(
                    message_id=pk, status=to, at=at, source=source, error_code=code[:40], detail=detail[:500]
                )
                for pk in done
            ],
            batch_size=1000,
        )
    return done


def _update_returning(where: Q, fields: dict) -> list[int]:
    """`UPDATE ... WHERE ... RETURNING id` (PostgreSQL, SQLite >= 3.35): the ids of exactly the
    rows this statement changed, in one round trip (Django's update() only counts them)."""
    qs = Message.objects.filter(where)
    query = qs.query.chain(sql.UpdateQuery)
    query.add_update_values(fields)
    text, params = query.get_compiler(qs.db).as_sql()
    if not text:
        return []
    pk = connections[qs.db].ops.quote_name(Message._meta.pk.column)
    with connections[qs.db].cursor() as cursor:
        cursor.execute(f"{text} RETURNING {pk}", params)
        return [row[0] for row in cursor.fetchall()]


def note(*, message_id: int, status: str, at: dt.datetime, source: str, detail: str, error_code: str = ""):
    """A history line that changes no status (a receipt that was not applied, a fallback
    started, still deferred): `applied=False`, so the timeline shows it beside the changes."""
    MessageStatusEvent.objects.create(
        message_id=message_id,
        status=status,
        at=at,
        source=source,
        applied=False,
        error_code=error_code[:40],
        detail=detail[:500],
    )
