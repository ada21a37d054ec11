"""Retention: each workspace keeps messages, journey steps and contact events for as long as its
admins set (GDPR storage limitation; blank keeps them), and the worker deletes what is older.

Apps register, in their own `<app>/retention.py` (found on first use, like gdpr.py), which of
their models holds each kind and by which date it ages, so this module never imports them:

    register("messages", Message, date="created_at", workspace="workspace")

`purge_task()` runs hourly in the worker (the Schedule of migration 0006; `manage.py retention`
shows or runs the same by hand). It deletes in batches of
BATCH rows, each its own short transaction found by primary key, so no statement holds a hot
table's locks for long and a killed worker loses only its current batch's work (the next run
finds the rest). It stops after a time budget and the next run continues. What the product
counts survives: the canvas counters (JourneyCounter), enrolments, experiment assignments and the
analytics rollups are other tables, never purged here; the realtime relay's rows are transient
and are purged for every workspace after REALTIME_KEEP."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import models, transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from .audit import audit_record
from .models import RealtimeEvent, Workspace
from .tenancy import Actor

KINDS = {  # kind -> the Workspace field holding its period in days
    "messages": "retention_messages_days",
    "steps": "retention_steps_days",
    "events": "retention_events_days",
}
BATCH = 2000
BUDGET_S = 240.0
REALTIME_KEEP = timedelta(hours=1)  # the relay itself prunes after 10 minutes while a web process runs


@dataclass(frozen=True)
class Target:
    kind: str
    model: type[models.Model]
    date: str  # the field a row ages by
    workspace: str  # the lookup from the row to its workspace id


_registry: list[Target] = []
_discovered = False


def register(kind: str, model: type[models.Model], *, date: str, workspace: str = "workspace") -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown retention kind {kind!r}; one of {sorted(KINDS)}")
    if not any(t.model is model for t in _registry):
        _registry.append(Target(kind, model, date, workspace))


def targets() -> list[Target]:
    global _discovered
    if not _discovered:
        autodiscover_modules("retention")
        _discovered = True
    return list(_registry)


def periods(workspace: Workspace) -> dict[str, int]:
    """The kinds this workspace limits, with their periods in days."""
    return {kind: days for kind, field in KINDS.items() if (days := getattr(workspace, field))}


def _expired(target: Target, workspace_id: int, cutoff):
    return target.model.objects.filter(**{target.workspace: workspace_id, f"{target.date}__lt": cutoff})


def purge_workspace(workspace: Workspace, *, now=None, deadline: float | None = None, dry_run=False) -> dict:
    """Delete (or with dry_run, count) this workspace's rows older than its periods. Returns
    {model label: rows}; stops between batches once `deadline` (time.monotonic()) has passed."""
    now = now or timezone.now()
    limits = periods(workspace)
    done: dict[str, int] = {}
    for target in targets():
        if target.kind not in limits:
            continue
        expired = _expired(target, workspace.pk, now - timedelta(days=limits[target.kind]))
        label = target.model._meta.label
        if dry_run:
            done[label] = expired.count()
            continue
        while deadline is None or time.monotonic() < deadline:
            ids = list(expired.order_by("pk").values_list("pk", flat=True)[:BATCH])
            if not ids:
                break
            with transaction.atomic():
                # by primary key, with the age check again: a row is never deleted on a stale read
                deleted = _expired(target, workspace.pk, now - timedelta(days=limits[target.kind]))
                deleted.filter(pk__in=ids).delete()
            done[label] = done.get(label, 0) + len(ids)
            if len(ids) < BATCH:
                break
    if done and not dry_run:
        audit_record(
            workspace=workspace, actor=Actor.system("retention"), action="retention.purged", target=workspace,
            data={"deleted": done, "periods_days": limits},
        )  # fmt: skip
    return done


def purge(*, now=None, budget_s: float = BUDGET_S) -> dict[int, dict]:
    """Every workspace's purge within one time budget, then the transient realtime rows."""
    now = now or timezone.now()
    deadline = time.monotonic() + budget_s
    results = {}
    limited = Workspace.objects.filter(
        models.Q(retention_messages_days__isnull=False)
        | models.Q(retention_steps_days__isnull=False)
        | models.Q(retention_events_days__isnull=False)
    )
    for workspace in limited.order_by("pk"):
        if time.monotonic() >= deadline:
            break
        if found := purge_workspace(workspace, now=now, deadline=deadline):
            results[workspace.pk] = found
    RealtimeEvent.objects.filter(created_at__lt=now - REALTIME_KEEP).delete()
    return results


def purge_task() -> int:
    """The worker's hourly run; returns how many rows it deleted."""
    return sum(n for found in purge().values() for n in found.values())
