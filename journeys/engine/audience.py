"""Audiences at scale: a segment on a schedule, a date rule every day, or a list of contacts
started by hand. An AudienceRun enrols its contacts in chunks (ids past a cursor, one insert per
chunk), so 100,000 contacts take constant memory and any engine process can take over a run
that another left half-done. Schedules create at most one run per due time (its run key)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contacts.models import Contact
from contacts.segments import segment_filter

from ..models import AudienceRun, Journey
from ..nodes import trigger_date
from ..validation import trigger_of
from .enroll import enroll_many

CHUNK = 2000


def _locked(qs):
    return qs.select_for_update(skip_locked=True, of=("self",)) if connection.vendor == "postgresql" else qs


def audience_queryset(run: AudienceRun):
    workspace = run.journey.workspace
    base = Contact.objects.filter(workspace_id=run.workspace_id)
    if run.source == AudienceRun.Source.SEGMENT:
        if run.segment is None:
            return base.none()
        return segment_filter(base, workspace=workspace, definition=run.segment.definition)
    if run.source == AudienceRun.Source.DATE:
        return base.filter(**{f"attributes__{run.params['attribute']}": run.params["date"]})
    return base.filter(pk__in=run.contact_ids)


def audience_step(*, now: dt.datetime | None = None, chunk: int = CHUNK) -> int:
    """Enrol the next chunk of one open run. Returns how many contacts it handled."""
    now = now or timezone.now()
    if not AudienceRun.objects.filter(
        status__in=[AudienceRun.Status.QUEUED, AudienceRun.Status.RUNNING]
    ).exists():
        return 0  # a read first: on SQLite a transaction takes the write lock
    with transaction.atomic():
        run = (
            _locked(
                AudienceRun.objects.filter(status__in=[AudienceRun.Status.QUEUED, AudienceRun.Status.RUNNING])
            )
            .exclude(journey__status=Journey.Status.PAUSED)
            .select_related("journey", "journey__workspace", "journey__live_version", "segment")
            .order_by("created_at", "id")
            .first()
        )
        if run is None:
            return 0
        journey = run.journey
        if journey.status != Journey.Status.LIVE or journey.live_version is None:
            AudienceRun.objects.filter(pk=run.pk).update(
                status=AudienceRun.Status.FAILED, error="The journey is not live.", finished_at=now
            )
            return 0
        qs = audience_queryset(run)
        fields = {}
        if run.status == AudienceRun.Status.QUEUED:
            fields.update(status=AudienceRun.Status.RUNNING, started_at=now, total=qs.count())
        ids = list(qs.filter(pk__gt=run.cursor).order_by("pk").values_list("pk", flat=True)[:chunk])
        enrolled, skipped = enroll_many(journey=journey, contact_ids=ids, now=now, key_prefix=f"run{run.pk}")
        fields.update(
            processed=run.processed + len(ids), enrolled=run.enrolled + enrolled, skipped=run.skipped + skipped,
            cursor=ids[-1] if ids else run.cursor,
        )  # fmt: skip
        if len(ids) < chunk:
            fields.update(status=AudienceRun.Status.DONE, finished_at=now)
        AudienceRun.objects.filter(pk=run.pk).update(**fields)
        return max(1, len(ids))


def audience_run_create(*, journey: Journey, source: str, run_key: str, now: dt.datetime, segment=None,
                        contact_ids=None, params=None, created_by=None) -> tuple[AudienceRun, bool]:  # fmt: skip
    try:
        with transaction.atomic():
            return AudienceRun.objects.create(
                workspace_id=journey.workspace_id, journey=journey, source=source, segment=segment,
                contact_ids=list(contact_ids or []), params=params or {}, run_key=run_key, created_at=now,
                created_by=created_by, total=len(contact_ids or []),
            ), True  # fmt: skip
    except IntegrityError:
        return AudienceRun.objects.get(journey=journey, run_key=run_key), False


def schedules_due(*, now: dt.datetime | None = None) -> int:
    """Live segment and date journeys whose scheduled time came: one run each, next time set."""
    from contacts.models import Segment

    from ..services.journeys import schedule_next

    now = now or timezone.now()
    done = 0
    if not Journey.objects.filter(status=Journey.Status.LIVE, next_run_at__lte=now).exists():
        return 0
    with transaction.atomic():
        due = list(
            _locked(Journey.objects.filter(status=Journey.Status.LIVE, next_run_at__lte=now))
            .select_related("workspace", "live_version")
            .order_by("next_run_at")[:20]
        )
        for journey in due:
            graph = journey.live_version.graph
            kind, config = trigger_of(graph)
            key = f"schedule:{journey.next_run_at.isoformat()}"
            if kind == "trigger.segment":
                segment = Segment.objects.filter(
                    workspace_id=journey.workspace_id, pk=config.get("segment")
                ).first()
                audience_run_create(
                    journey=journey, source=AudienceRun.Source.SEGMENT, segment=segment, run_key=key, now=now
                )
            elif kind == "trigger.date_attribute":
                tz = zoneinfo.ZoneInfo(journey.workspace.timezone or "UTC")
                day = trigger_date.target_date(config, journey.next_run_at.astimezone(tz).date())
                audience_run_create(journey=journey, source=AudienceRun.Source.DATE, run_key=key, now=now,
                                    params={"attribute": config["attribute"], "date": day.isoformat()})  # fmt: skip
            Journey.objects.filter(pk=journey.pk).update(next_run_at=schedule_next(journey, graph, now))
            done += 1
    return done
