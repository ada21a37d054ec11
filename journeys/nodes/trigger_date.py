"""trigger.date_attribute: enrols contacts whose date attribute is N days away (before or
after), every day at a time of the workspace's time zone: "3 days before due_date, at 10:00"."""

import datetime as dt
import zoneinfo

from .base import Node, go, obj, short
from .trigger_segment import TIME


def target_date(config: dict, today: dt.date) -> dt.date:
    """The attribute value that matches today: offset -3 (3 days before) -> today + 3."""
    return today - dt.timedelta(days=int(config.get("offset_days", 0)))


def next_run(config: dict, tz_name: str, after: dt.datetime) -> dt.datetime:
    tz = zoneinfo.ZoneInfo(tz_name or "UTC")
    hour, minute = map(int, (config.get("at") or "09:00").split(":"))
    day = after.astimezone(tz).date()
    while True:
        candidate = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
        if candidate > after:
            return candidate.astimezone(dt.UTC)
        day += dt.timedelta(days=1)


class DateAttributeTrigger(Node):
    type = "trigger.date_attribute"
    category = "trigger"
    label = "Days before or after a date"
    icon = "calendar-days"
    help = "Every day at a time, enrols contacts whose date attribute is that many days away (-3 = 3 days before)."
    schema = obj(
        {
            "attribute": {"type": "string", "minLength": 1, "maxLength": 60},
            "offset_days": {"type": "integer", "minimum": -365, "maximum": 365},
            "at": TIME,
        },
        ["attribute", "offset_days"],
    )
    form = [
        {"name": "attribute", "label": "Date attribute", "widget": "attribute", "required": True},
        {"name": "offset_days", "label": "Days (negative = before)", "widget": "number"},
        {"name": "at", "label": "At (workspace time)", "widget": "time"},
    ]
    defaults = {"attribute": "due_date", "offset_days": -3, "at": "10:00"}

    def title(self, config):
        if not config.get("attribute"):
            return self.label
        days = int(config.get("offset_days") or 0)
        when = "on" if days == 0 else f"{abs(days)} d {'before' if days < 0 else 'after'}"
        return f"{when} {short(config['attribute'], 16)}".capitalize()

    def check(self, config, ctx):
        return ctx.check_attribute(config.get("attribute"), "attribute", want="date")

    def enter(self, run):
        return go()


NODE = DateAttributeTrigger()
