"""Reads of the journeys app. Every selector takes the workspace first."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import Count, QuerySet

from cpaas.models import Workspace

from .engine.counters import counters_for
from .models import AudienceRun, Enrollment, Journey, Step

MESSAGE_STATS_TTL_S = 30


def journey_list(*, workspace: Workspace, status: str = "") -> QuerySet[Journey]:
    qs = Journey.objects.filter(workspace=workspace).select_related("live_version")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("name", "id")


def journey_get(*, workspace: Workspace, pk) -> Journey:
    return Journey.objects.select_related("live_version").get(workspace=workspace, pk=pk)


def journey_totals(*, workspace: Workspace, journey: Journey) -> dict:
    """Enrolled, active, completed, goal reached, failed... from the counters (no COUNT(*))."""
    totals = counters_for(journey.pk).get("", {})
    keys = ("enrolled", "active", "completed", "goal", "goal_conversions", "expired", "cancelled", "failed")
    out = {k: int(totals.get(k, 0)) for k in keys}
    out["goal_reached"] = out.pop("goal") + out.pop("goal_conversions")
    return out


def node_counters(*, workspace: Workspace, journey: Journey) -> dict[str, dict]:
    """Per node: entered, waiting now, failed there, left by each exit."""
    out = {}
    for node, values in counters_for(journey.pk).items():
        if not node:
            continue
        out[node] = {
            "entered": int(values.get("entered", 0)),
            "waiting": int(values.get("waiting", 0)),
            "failed": int(values.get("failed", 0)),
            "exits": {k.split(":", 1)[1]: int(v) for k, v in values.items() if k.startswith("exit:")},
            "exposures": {k.split(":", 1)[1]: int(v) for k, v in values.items() if k.startswith("exposure:")},
        }
    return out


def journey_message_stats(*, workspace: Workspace, journey: Journey) -> dict[str, int]:
    """Messages of the journey by status (editor test runs' messages are not the journey's). One
    grouped query on the (journey_id, status) index, cached for 30 s per process (message
    statuses change in the messaging core, not here)."""
    from channels_app.models import Message

    key = f"journeys:msgstats:{journey.pk}"
    stats = cache.get(key)
    if stats is None:
        rows = (
            Message.objects.filter(workspace=workspace, journey_id=journey.pk)
            .values("status")
            .annotate(n=Count("id"))
        )
        stats = {r["status"]: r["n"] for r in rows}
        cache.set(key, stats, MESSAGE_STATS_TTL_S)
    return stats


def enrollment_list(
    *, workspace: Workspace, journey: Journey | None = None, contact=None, status: str = ""
) -> QuerySet[Enrollment]:
    qs = Enrollment.objects.filter(workspace=workspace).select_related("journey", "version", "contact")
    if journey is not None:
        qs = qs.filter(journey=journey)
    if contact is not None:
        qs = qs.filter(contact=contact)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-entered_at", "-id")


def enrollment_get(*, workspace: Workspace, pk) -> Enrollment:
    return Enrollment.objects.select_related("journey", "version", "contact").get(workspace=workspace, pk=pk)


def enrollment_steps(*, workspace: Workspace, enrollment: Enrollment) -> QuerySet[Step]:
    return Step.objects.filter(enrollment=enrollment, enrollment__workspace=workspace).order_by("at", "id")


def audience_runs(*, workspace: Workspace, journey: Journey) -> QuerySet[AudienceRun]:
    return AudienceRun.objects.filter(workspace=workspace, journey=journey).order_by("-created_at", "-id")


def contact_journeys(*, workspace: Workspace, contact) -> list[dict]:
    """The contact's enrolments with their steps, newest first (the contact page)."""
    enrollments = list(enrollment_list(workspace=workspace, contact=contact)[:20])
    steps: dict[int, list[Step]] = {}
    for step in Step.objects.filter(enrollment__in=enrollments).order_by("at", "id"):
        steps.setdefault(step.enrollment_id, []).append(step)
    return [{"enrollment": e, "steps": steps.get(e.pk, [])} for e in enrollments]


def journey_lag_s(*, workspace: Workspace | int, journey: Journey | None = None, now=None) -> float:
    """The engine's backlog: seconds the oldest enrolment due now has waited (0.0 when the engine
    is keeping up). Held contacts of a paused journey are not a backlog. Reported as `lag_s` on
    the journey page and in the API; the API keeps accepting events meanwhile (they are rows)."""
    from django.db.models import Min
    from django.utils import timezone

    from .engine.runner import RUNNABLE

    now = now or timezone.now()
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    qs = Enrollment.objects.filter(RUNNABLE, workspace_id=workspace_id, due_at__lte=now)
    if journey is not None:
        qs = qs.filter(journey=journey)
    oldest = qs.aggregate(oldest=Min("due_at"))["oldest"]
    return round(max(0.0, (now - oldest).total_seconds()), 3) if oldest else 0.0


def engine_lag_s(*, now) -> float:
    """Across every workspace: seconds the oldest enrolment due now has waited for the engine
    (timers, replies, starts). `/readyz` and the metrics report it (cpaas.health)."""
    from django.db.models import Min

    from .engine.runner import RUNNABLE

    oldest = Enrollment.objects.filter(RUNNABLE, due_at__lte=now).aggregate(oldest=Min("due_at"))["oldest"]
    return round(max(0.0, (now - oldest).total_seconds()), 3) if oldest else 0.0


def timer_lateness_s(*, now) -> float:
    """How late the oldest due timer is (a wait whose time has come, not yet advanced): the
    metrics' timer lateness (cpaas.metrics)."""
    from django.db.models import Min

    from .engine.runner import RUNNABLE

    oldest = Enrollment.objects.filter(RUNNABLE, wait_kind="timer", due_at__lte=now).aggregate(
        oldest=Min("due_at")
    )["oldest"]
    return round(max(0.0, (now - oldest).total_seconds()), 3) if oldest else 0.0
