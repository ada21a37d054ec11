"""Reads on experiments, workspace first: the list, one experiment, and the per-contact rows of
the CSV export (each assignment with its goal conversion, computed in SQL, streamed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.db.models import Min, OuterRef, QuerySet, Subquery

from contacts.models import Event

from .models import Experiment, ExperimentAssignment


def experiment_list(*, workspace, status: str = "", journey_id: int | None = None) -> QuerySet[Experiment]:
    qs = Experiment.objects.filter(workspace=workspace).prefetch_related("arms")
    if status:
        qs = qs.filter(status=status)
    if journey_id is not None:
        qs = qs.filter(journey_id=journey_id)
    return qs.order_by("-created_at", "-id")


def experiment_get(*, workspace, pk: int) -> Experiment:
    """Raises Experiment.DoesNotExist for another workspace's experiment (a 404)."""
    return Experiment.objects.prefetch_related("arms").get(workspace=workspace, pk=pk)


EXPORT_HEADER = ["contact_id", "external_id", "variant", "exposed_at", "converted_at", "seconds_to_convert"]


def assignment_rows(*, experiment: Experiment, chunk: int = 2000) -> Iterator[list]:
    """One row per assigned contact: their variant, when they were exposed, and their first goal
    event within the experiment's window after exposure (empty when none). Read in chunks past a
    cursor, so any number of rows streams in constant memory."""
    window = dt.timedelta(seconds=experiment.goal_window_s)
    qs = ExperimentAssignment.objects.filter(experiment=experiment)
    if experiment.goal_event:
        first_goal = (
            Event.objects.filter(
                workspace_id=experiment.workspace_id,
                contact_id=OuterRef("contact_id"),
                name=experiment.goal_event,
                occurred_at__gte=OuterRef("exposed_at"),
                occurred_at__lte=OuterRef("exposed_at") + window,
            )
            .values("contact_id")
            .annotate(first=Min("occurred_at"))
            .values("first")
        )
        qs = qs.annotate(converted_at=Subquery(first_goal))
    fields = ["pk", "contact_id", "contact__external_id", "variant", "exposed_at"]
    if experiment.goal_event:
        fields.append("converted_at")
    last = 0
    while True:
        rows = list(qs.filter(pk__gt=last).order_by("pk").values_list(*fields)[:chunk])
        if not rows:
            return
        last = rows[-1][0]
        for row in rows:
            converted = row[5] if experiment.goal_event else None
            seconds = int((converted - row[4]).total_seconds()) if converted else ""
            yield [
                row[1],
                row[2] or "",
                row[3],
                row[4].isoformat(),
                converted.isoformat() if converted else "",
                seconds,
            ]


def experiment_for_node(*, workspace, journey_id: int, node: str) -> Experiment | None:
    """The experiment of a split node, if the journey has been saved with it (`experiment_sync`)."""
    return Experiment.objects.filter(workspace=workspace, journey_id=journey_id, node=node).first()
