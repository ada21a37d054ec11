"""Starting contacts by hand (a list, a segment, a CSV of ids/phones) and cancelling one
enrolment. Starts go through an AudienceRun, so big lists enrol in batches with progress."""

from __future__ import annotations

import datetime as dt
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact, Segment
from cpaas.audit import audit_record
from cpaas.locks import lock_refresh
from cpaas.tenancy import Actor

from ..engine.audience import audience_run_create
from ..engine.counters import CounterDeltas
from ..models import AudienceRun, Enrollment, Journey

START_MAX_IDS = 200_000
CSV_MAX_BYTES = 10 * 1024 * 1024
CSV_COLUMNS = ("id", "external_id", "phone")


def contacts_from_csv(*, workspace, data: bytes) -> list[int]:
    """Contact ids from a CSV whose header names one of id, external_id, phone (the first such
    column is used). Every row must name a contact of the workspace, else ValidationError with
    the first bad lines."""
    import csv
    import io

    from contacts.validation import normalize_phone

    if len(data) > CSV_MAX_BYTES:
        raise ValidationError({"csv": [f"At most {CSV_MAX_BYTES // (1024 * 1024)} MB."]})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError({"csv": ["The file is not UTF-8 text."]}) from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    column = next((c for c in header if c in CSV_COLUMNS), None)
    if column is None:
        raise ValidationError({"csv": [f"The first line must name a column {', '.join(CSV_COLUMNS)}."]})
    index = header.index(column)
    values, bad = [], []
    for line, row in enumerate(reader, start=2):
        raw = (row[index] if index < len(row) else "").strip()
        if not raw:
            continue
        if column == "phone":
            try:
                raw = normalize_phone(raw, workspace.default_country)
            except ValueError:
                bad.append(f"line {line}: '{raw}' is not a phone number")
                continue
        elif column == "id" and not raw.isdigit():
            bad.append(f"line {line}: '{raw}' is not an id")
            continue
        values.append((line, int(raw) if column == "id" else raw))
    field = {"id": "pk", "external_id": "external_id", "phone": "phone"}[column]
    found: dict = {}
    wanted = [v for _, v in values]
    for start in range(0, len(wanted), 5000):
        found.update(
            Contact.objects.filter(
                workspace=workspace, **{f"{field}__in": wanted[start : start + 5000]}
            ).values_list(field, "pk")
        )
    bad += [f"line {line}: no contact with {column} {v}" for line, v in values if v not in found]
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise ValidationError({"csv": ["; ".join(bad[:5]) + more]})
    if not values:
        raise ValidationError({"csv": ["The file names no contact."]})
    return list(dict.fromkeys(found[v] for _, v in values))


@transaction.atomic
def journey_start(*, journey: Journey, actor: Actor, contact_ids: list[int] | None = None, segment: Segment | None = None,
                  idempotency_key: str = "", now: dt.datetime | None = None) -> AudienceRun:  # fmt: skip
    """Start contacts (ids of this workspace) or a segment in a live journey. The same
    idempotency key returns the first run."""
    now = now or timezone.now()
    journey = lock_refresh(journey)  # the journey's row only (not its workspace's)
    if journey.status != Journey.Status.LIVE:
        raise ValidationError(
            {
                "journey": [
                    f"Only a live journey can be started (this one is {journey.get_status_display().lower()})."
                ]
            }
        )
    if (contact_ids is None) == (segment is None):
        raise ValidationError({"contacts": ["Give contacts or a segment (one of them)."]})
    if segment is not None and segment.workspace_id != journey.workspace_id:
        raise ValidationError({"segment": ["No such segment in this workspace."]})
    ids: list[int] = []
    if contact_ids is not None:
        if len(contact_ids) > START_MAX_IDS:
            raise ValidationError(
                {"contacts": [f"At most {START_MAX_IDS:,} contacts per start; use a segment."]}
            )
        ids = list(dict.fromkeys(int(c) for c in contact_ids))
        found = set(
            Contact.objects.filter(workspace_id=journey.workspace_id, pk__in=ids).values_list("pk", flat=True)
        )
        missing = [c for c in ids if c not in found]
        if missing:
            raise ValidationError(
                {"contacts": [f"Not contacts of this workspace: {', '.join(map(str, missing[:10]))}."]}
            )
        if not ids:
            raise ValidationError({"contacts": ["No contacts given."]})
    key = f"manual:{idempotency_key}" if idempotency_key else f"manual:{secrets.token_hex(8)}"
    run, created = audience_run_create(
        journey=journey, source=AudienceRun.Source.SEGMENT if segment else AudienceRun.Source.CONTACTS, run_key=key,
        now=now, segment=segment, contact_ids=ids, created_by=actor.user if actor.kind == "user" else None,
    )  # fmt: skip
    if created:
        audit_record(workspace=journey.workspace, actor=actor, action="journeys.journey.started", target=journey,
                     data={"run": run.pk, "segment": segment.pk if segment else None, "contacts": len(ids)}, at=now)  # fmt: skip
    return run


def entry_refusal(*, journey: Journey, contact: Contact) -> str:
    """Why the journey's entry rules would not take `contact` now, in words ("" when they would):
    the answer "start for a contact" gives instead of a run that silently skips them."""
    past = (
        Enrollment.objects.filter(journey=journey, contact=contact, is_test=False)
        .order_by("-entered_at")
        .first()
    )
    if past is None:
        return ""
    from ..validation import node_title

    name = contact.display_name
    if past.is_open and journey.one_active:
        title = node_title(((past.version.graph or {}).get("nodes") or {}).get(past.node) or {}) or past.node
        where = f"waiting at '{title}'" if past.status == Enrollment.Status.WAITING else f"at '{title}'"
        return (f"{name} is already in this journey ({where} since {past.entered_at:%Y-%m-%d %H:%M} UTC); "
                "a contact is in it once at a time.")  # fmt: skip
    if not journey.allow_reentry:
        return (f"{name} has been through this journey already (entered {past.entered_at:%Y-%m-%d %H:%M} UTC, "
                f"{past.get_status_display().lower()}), and re-entry is off for it.")  # fmt: skip
    return ""


def journey_start_contact(
    *, journey: Journey, actor: Actor, contact: Contact, now: dt.datetime | None = None
) -> AudienceRun:
    """Start one contact (the journey page's and the API's "start for a contact"): a contact the
    entry rules would skip gets a clear answer instead of a run that enrols nobody."""
    if contact.workspace_id != journey.workspace_id:
        raise ValidationError({"contact": ["No such contact in this workspace."]})
    refusal = entry_refusal(journey=journey, contact=contact)
    if refusal:
        raise ValidationError({"contact": [refusal]})
    return journey_start(journey=journey, actor=actor, contact_ids=[contact.pk], now=now)


@transaction.atomic
def enrollment_cancel(
    *, enrollment: Enrollment, actor: Actor, reason: str = "", now: dt.datetime | None = None
) -> Enrollment:
    now = now or timezone.now()
    e = lock_refresh(enrollment)
    if not e.is_open:
        raise ValidationError(
            {"status": [f"This enrolment already ended ({e.get_status_display().lower()})."]}
        )
    deltas = CounterDeltas()
    if not e.is_test:  # editor test runs are never counted
        if e.status == Enrollment.Status.WAITING:
            deltas.add(e.journey_id, e.node, "waiting", -1)
        deltas.add(e.journey_id, "", "active", -1)
        deltas.add(e.journey_id, "", "cancelled", 1)
    reason = (reason or f"cancelled by {actor.label}")[:300]
    Enrollment.objects.filter(pk=e.pk).update(
        status=Enrollment.Status.CANCELLED, ended_at=now, end_reason=reason, due_at=None, resume=None,
        active_lock=None, wait_kind="", wait_event="", wait_match={}, wait_until=None,
    )  # fmt: skip
    deltas.flush()
    audit_record(workspace=e.workspace, actor=actor, action="journeys.enrollment.cancelled", target=e,
                 data={"journey": e.journey_id, "contact": e.contact_id, "reason": reason}, at=now)  # fmt: skip
    e.refresh_from_db()
    return e
