"""How far behind the background loops are, for APIs of apps below them to report (`lag_s`):
the events batch API lives in contacts, the backlog it reports is the journey engine's. Apps
register a function `(workspace_id, now) -> seconds` at start-up; the lag is the largest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.utils import timezone

_sources: dict[str, Callable[[int, dt.datetime], float]] = {}


def register(name: str, source: Callable[[int, dt.datetime], float]) -> None:
    _sources[name] = source


def lag_s(workspace_id: int, now: dt.datetime | None = None) -> float:
    """Seconds the oldest work due in this workspace has waited (0.0 when none waits)."""
    now = now or timezone.now()
    return round(max((source(workspace_id, now) for source in _sources.values()), default=0.0), 3)
