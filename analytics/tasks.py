"""Worker tasks (django-q2): the rollups' refresh, every minute on the schedule the migration
`0002_rollups_schedule` creates. Safe to run twice: a refresh recomputes whole buckets."""

from __future__ import annotations

from .rollups import refresh


def rollups_refresh_task() -> int:
    """Refresh every workspace's rollups; returns how many hour buckets were recomputed."""
    return sum(refresh().values())
