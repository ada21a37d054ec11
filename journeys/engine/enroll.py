"""Entering a journey, honouring its entry rules: re-entry allowed or not, at most one active
enrolment per contact (also a partial unique index), once per trigger key (an event's id: the
same event never enrols twice). New enrolments are due at once; the engine advances them."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from cpaas.bulk import insert_ignoring_conflicts as insert_rows_ignoring_conflicts

from ..models import Enrollment, Journey
from .counters import CounterDeltas

S = Enrollment.Status


def _new(journey: Journey, contact_id: int, now, context: dict | None, trigger_key: str | None,
         start: str | None = None) -> Enrollment:  # fmt: skip
    from .graph import graph_for

    return Enrollment(
        workspace_id=journey.workspace_id,
        journey_id=journey.pk,
        version_id=journey.live_version_id,
        contact_id=contact_id,
        status=S.ACTIVE,
        node=start or graph_for(journey.live_version_id).start,
        context=context or {},
        due_at=now,
        entered_at=now,
        expires_at=now + dt.timedelta(days=journey.expiry_days) if journey.expiry_days else None,
        trigger_key=trigger_key,
        active_lock=True if journey.one_active else None,
    )


def blocked_contacts(journey: Journey, contact_ids: list[int]) -> set[int]:
    """Contacts the entry rules keep out."""
    if not contact_ids:
        return set()
    # an editor test run never keeps the contact out of the journey itself
    qs = Enrollment.objects.filter(journey=journey, contact_id__in=contact_ids, is_test=False)
    if journey.allow_reentry:
        if not journey.one_active:
            return set()
        qs = qs.filter(status__in=Enrollment.OPEN)
    return set(qs.values_list("contact_id", flat=True))


def enroll_one(*, journey: Journey, contact_id: int, now: dt.datetime, context: dict | None = None,
               trigger_key: str | None = None, deltas: CounterDeltas | None = None,
               rules_checked: bool = False) -> Enrollment | None:  # fmt: skip
    """The enrolment, or None when the entry rules (or an earlier enrolment with the same trigger
    key) keep the contact out. `rules_checked`: the caller already read the entry rules for this
    contact (events do it in the query that finds their journeys)."""
    if journey.status != Journey.Status.LIVE or journey.live_version_id is None:
        return None
    if not rules_checked and blocked_contacts(journey, [contact_id]):
        return None
    enrollment = _new(journey, contact_id, now, context, trigger_key)
    # this trigger key enrolled before, or a concurrent trigger enrolled the contact: no row
    if not insert_ignoring_conflicts([enrollment]):
        return None
    own = deltas is None
    deltas = deltas or CounterDeltas()
    deltas.add(journey.pk, "", "enrolled")
    deltas.add(journey.pk, "", "active")
    if own:
        deltas.flush()
    return enrollment


def blocked_expression(contact_id: int):
    """Per journey (as an annotation on Journey): do its entry rules keep this contact out? The
    same rule as `blocked_contacts`, evaluated in the query that finds the journeys."""
    from django.db.models import Exists, OuterRef

    return Exists(
        Enrollment.objects.filter(journey=OuterRef("pk"), contact_id=contact_id, is_test=False).filter(
            Q(journey__allow_reentry=False) | Q(journey__one_active=True, status__in=Enrollment.OPEN)
        )
    )


def enroll_many(*, journey: Journey, contact_ids: list[int], now: dt.datetime, key_prefix: str = "",
                context: dict | None = None) -> tuple[int, int]:  # fmt: skip
    """A chunk of an audience: one query for the entry rules, one multi-row insert.
    Returns (enrolled, skipped)."""
    if not contact_ids:
        return 0, 0
    blocked = blocked_contacts(journey, contact_ids)
    if key_prefix:
        keys = [f"{key_prefix}:{c}" for c in contact_ids]
        blocked |= {
            int(k.rsplit(":", 1)[1])
            for k in Enrollment.objects.filter(journey=journey, trigger_key__in=keys).values_list(
                "trigger_key", flat=True
            )
        }
    fresh = [c for c in dict.fromkeys(contact_ids) if c not in blocked]
    from .graph import graph_for

    start = graph_for(journey.live_version_id).start  # once, not per row
    rows = [_new(journey, c, now, context, f"{key_prefix}:{c}" if key_prefix else None, start) for c in fresh]
    # a concurrent enrolment (same trigger key, or the contact's one active enrolment) may win
    # a row between the read above and this insert: count only the rows actually inserted
    inserted = insert_ignoring_conflicts(rows)
    deltas = CounterDeltas()
    deltas.add(journey.pk, "", "enrolled", inserted)
    deltas.add(journey.pk, "", "active", inserted)
    deltas.flush()
    return inserted, len(contact_ids) - inserted


def enroll_events(*, journey: Journey, events: list, now: dt.datetime, deltas: CounterDeltas) -> int:
    """Enrol the contacts of `events` (one event per contact, each already matched to the
    journey's trigger) as `enroll_one` would for each: one query for the entry rules, one
    multi-row insert; each enrolment keyed by its event (`event:<id>`), so no event enrols twice
    however often it is handed over. Returns how many went in."""
    if not events or journey.status != Journey.Status.LIVE or journey.live_version_id is None:
        return 0
    from .graph import graph_for

    blocked = blocked_contacts(journey, [e.contact_id for e in events])
    start = graph_for(journey.live_version_id).start
    rows = [
        _new(
            journey,
            e.contact_id,
            min(now, e.occurred_at),  # due at the event's time when it is earlier, as on_event
            {"event": {**(e.properties or {}), "name": e.name, "id": e.pk}},
            f"event:{e.pk}",
            start,
        )
        for e in events
        if e.contact_id not in blocked
    ]
    inserted = insert_ignoring_conflicts(rows)
    deltas.add(journey.pk, "", "enrolled", inserted)
    deltas.add(journey.pk, "", "active", inserted)
    return inserted


def insert_ignoring_conflicts(rows: list[Enrollment]) -> int:
    """How many of `rows` went in (INSERT ... ON CONFLICT DO NOTHING RETURNING id; no savepoint
    needed, a conflict is not an error). A single row that went in gets its pk."""
    ids = insert_rows_ignoring_conflicts(Enrollment, rows)
    if len(rows) == 1 and ids:
        rows[0].pk, rows[0]._state.adding = ids[0], False
    return len(ids)


def open_enrollments(contact_id: int):
    return Enrollment.objects.filter(Q(contact_id=contact_id) & Q(status__in=Enrollment.OPEN))
