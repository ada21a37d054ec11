"""trigger.segment: enrols a segment's contacts on a schedule, daily at a time of the
workspace's time zone or on a cron expression (also started at once from the journey page)."""

import datetime as dt
import zoneinfo

from .base import Node, go, obj

TIME = {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$"}


def next_run(config: dict, tz_name: str, after: dt.datetime) -> dt.datetime | None:
    schedule = config.get("schedule") or {}
    tz = zoneinfo.ZoneInfo(tz_name or "UTC")
    if schedule.get("cron"):
        from croniter import croniter

        return croniter(schedule["cron"], after.astimezone(tz)).get_next(dt.datetime).astimezone(dt.UTC)
    if schedule.get("daily_at"):
        hour, minute = map(int, schedule["daily_at"].split(":"))
        local = after.astimezone(tz)
        day = local.date()
        for _ in range(3):
            candidate = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
            if candidate > after:
                return candidate.astimezone(dt.UTC)
            day += dt.timedelta(days=1)
    return None


class SegmentTrigger(Node):
    type = "trigger.segment"
    category = "trigger"
    label = "A segment, on a schedule"
    icon = "users"
    help = "Enrols everyone in a segment, daily at a time (workspace time zone) or on a cron schedule."
    schema = obj(
        {
            "segment": {"type": "integer", "minimum": 1},
            "schedule": {
                "type": "object",
                "properties": {
                    "daily_at": TIME,
                    "cron": {"type": "string", "minLength": 9, "maxLength": 100},
                },
                "additionalProperties": False,
            },
        },
        ["segment"],
    )
    form = [
        {"name": "segment", "label": "Segment", "widget": "segment", "required": True},
        {"name": "schedule.daily_at", "label": "Daily at", "widget": "time"},
        {
            "name": "schedule.cron",
            "label": "Or a cron expression",
            "widget": "text",
            "help": "e.g. 0 9 * * 1 (Mondays 09:00)",
        },
    ]

    def check(self, config, ctx):
        problems = []
        if config.get("segment") and config["segment"] not in ctx.segment_ids:
            problems.append(("segment", f"Segment {config['segment']} does not exist in this workspace."))
        cron = (config.get("schedule") or {}).get("cron")
        if cron:
            from croniter import croniter

            if not croniter.is_valid(cron):
                problems.append(
                    ("schedule.cron", f"'{cron}' is not a cron expression (minute hour day month weekday).")
                )
        return problems

    def enter(self, run):
        return go()


NODE = SegmentTrigger()
