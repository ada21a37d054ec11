"""SLA due times in business hours. A queue's first-response and resolution targets are counted
only while the workspace is open (InboxSettings.business_hours, in the workspace's time zone).

Each open interval is turned into two real instants (`consent`'s `wall_to_instant`: a wall time
in a spring-forward gap is the end of the gap, a repeated one is its first pass), and what is
counted is real elapsed time between them: 09:00–17:00 on a day the clocks change is still the
8 hours the clocks show, and a night interval that spans the change counts the hour it really
lasted."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db.models import F, Q

from consent.services.decisions import wall_to_instant

from .models import Conversation, InboxSettings

SEARCH_DAYS = 400  # a due time further than this (a workspace open one hour a year) is not kept
MIDNIGHT = dt.time(0, 0)


def zone_of(workspace) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(workspace.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def add_business_seconds(
    *, start: dt.datetime, seconds: int | None, settings: InboxSettings | None, zone: zoneinfo.ZoneInfo
) -> dt.datetime | None:
    """The instant `seconds` of open time after `start` (None for no target). With no business
    hours the workspace is open around the clock."""
    if seconds is None:
        return None
    if settings is None or not settings.business_hours:
        return start + dt.timedelta(seconds=seconds)
    if not any(settings.business_hours.values()):
        return None  # never open: no due time can be met or missed
    remaining = dt.timedelta(seconds=seconds)
    day = start.astimezone(zone).date()
    for _ in range(SEARCH_DAYS):
        for open_at, close_at in settings.intervals(day.weekday()):
            begin = max(wall_to_instant(day, open_at, zone), start)
            end = (
                wall_to_instant(day + dt.timedelta(days=1), MIDNIGHT, zone)
                if close_at is None
                else (wall_to_instant(day, close_at, zone))
            )
            if end <= begin:
                continue
            if end - begin >= remaining:
                return begin + remaining
            remaining -= end - begin
        day += dt.timedelta(days=1)
    return None


def due_times(conversation: Conversation, *, settings: InboxSettings | None, start: dt.datetime) -> dict:
    """The conversation's SLA due times counted from `start` under its queue's targets."""
    zone = zone_of(conversation.workspace)
    queue = conversation.queue
    return {
        "first_response_due_at": add_business_seconds(
            start=start, seconds=queue.first_response_s, settings=settings, zone=zone
        ),
        "resolution_due_at": add_business_seconds(
            start=start, seconds=queue.resolution_s, settings=settings, zone=zone
        ),
    }


def breached(now: dt.datetime) -> Q:
    """Conversations whose first response or resolution came late, or is due and has not come."""
    return (
        Q(first_response_due_at__lt=now, first_response_at__isnull=True)
        | Q(first_response_at__gt=F("first_response_due_at"))
        | Q(resolution_due_at__lt=now, resolved_at__isnull=True)
        | Q(resolved_at__gt=F("resolution_due_at"))
    )
