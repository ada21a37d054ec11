"""A report's period: calendar days in the workspace's time zone, turned into aware datetimes
once, so every KPI counts the same days the reader sees (a day in New York is not a UTC day)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.core.exceptions import ValidationError

MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """The local days `first` .. `last` (both included) in zone `tz`."""

    first: dt.date
    last: dt.date
    tz: zoneinfo.ZoneInfo

    @property
    def start(self) -> dt.datetime:
        return self.midnight(self.first)

    @property
    def end(self) -> dt.datetime:
        """The first instant after the period (local midnight after `last`)."""
        return self.midnight(self.last + dt.timedelta(days=1))

    def midnight(self, day: dt.date) -> dt.datetime:
        """Local midnight starting `day`, as an aware datetime (DST-safe: built in the zone)."""
        return dt.datetime.combine(day, dt.time(0), tzinfo=self.tz)

    def day_of(self, at: dt.datetime) -> dt.date:
        return at.astimezone(self.tz).date()

    @property
    def length(self) -> int:
        """How many days."""
        return (self.last - self.first).days + 1

    def days(self) -> list[dt.date]:
        n = (self.last - self.first).days + 1
        return [self.first + dt.timedelta(days=i) for i in range(n)]

    def buckets(self) -> list[dt.date]:
        """The chart's x axis: days up to 62 days, else the Mondays of the weeks."""
        if (self.last - self.first).days < 62:
            return self.days()
        monday = self.first - dt.timedelta(days=self.first.weekday())
        out = []
        while monday <= self.last:
            out.append(monday)
            monday += dt.timedelta(days=7)
        return out

    def bucket_of(self, at: dt.datetime) -> dt.date:
        day = self.day_of(at)
        if (self.last - self.first).days < 62:
            return day
        return day - dt.timedelta(days=day.weekday())

    def as_json(self) -> dict:
        return {"from": self.first.isoformat(), "to": self.last.isoformat(), "time_zone": str(self.tz)}


def workspace_zone(workspace) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(workspace.timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def period_parse(
    *, workspace, first: str | None, last: str | None, now: dt.datetime, default_days: int = 30
) -> Period:
    """The period a page or API call asks for (`from` / `to` as YYYY-MM-DD, local days), by
    default the last `default_days` days up to today. Raises ValidationError naming the field."""
    tz = workspace_zone(workspace)
    today = now.astimezone(tz).date()
    errors: dict[str, list[str]] = {}

    def parse(value, field, default):
        if not value:
            return default
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            errors[field] = [f"'{value}' is not a date (YYYY-MM-DD)."]
            return default

    last_day = parse(last, "to", today)
    first_day = parse(first, "from", last_day - dt.timedelta(days=default_days - 1))
    if not errors:
        if first_day > last_day:
            errors["from"] = [f"The period starts ({first_day}) after it ends ({last_day})."]
        elif (last_day - first_day).days >= MAX_DAYS:
            errors["from"] = [f"At most {MAX_DAYS} days at once."]
    if errors:
        raise ValidationError(errors)
    return Period(first_day, last_day, tz)
