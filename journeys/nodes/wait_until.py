"""wait.until: wait until a time of day on chosen weekdays in the contact's time zone, or until
a date attribute plus or minus some days (at a time of day). Exits: next; `missing` when the
attribute is not set or not a date. A moment already past continues at once."""

import datetime as dt

from .base import Node, go, obj, short, wait
from .trigger_segment import TIME


def wall(day: dt.date, at: str, tz) -> dt.datetime:
    hour, minute = map(int, at.split(":"))
    local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
    # a wall time that does not exist (spring forward) lands an hour later, as clocks show it
    return dt.datetime.fromtimestamp(local.timestamp(), tz=dt.UTC)


def next_time_of_day(now: dt.datetime, at: str, weekdays: list[int] | None, tz) -> dt.datetime:
    day = now.astimezone(tz).date()
    for _ in range(8):
        if not weekdays or day.weekday() in weekdays:
            candidate = wall(day, at, tz)
            if candidate > now:
                return candidate
        day += dt.timedelta(days=1)
    return now


class WaitUntil(Node):
    type = "wait.until"
    category = "wait"
    label = "Wait until"
    icon = "clock"
    help = "Waits until a time of day (contact's time zone, chosen weekdays) or a date attribute ± days."
    schema = obj(
        {
            "mode": {"type": "string", "enum": ["time_of_day", "attribute"]},
            "time": TIME,
            "weekdays": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0, "maximum": 6},
                "uniqueItems": True,
            },
            "attribute": {"type": "string", "minLength": 1, "maxLength": 60},
            "offset_days": {"type": "integer", "minimum": -365, "maximum": 365},
        },
        ["mode"],
    )
    form = [
        {"name": "mode", "label": "Until", "widget": "select", "options": ["time_of_day", "attribute"]},
        {"name": "time", "label": "Time (contact's zone)", "widget": "time"},
        {"name": "weekdays", "label": "On weekdays (0 = Monday)", "widget": "weekdays"},
        {"name": "attribute", "label": "Date attribute", "widget": "attribute"},
        {"name": "offset_days", "label": "Days before (-) or after (+)", "widget": "number"},
    ]
    defaults = {"mode": "time_of_day", "time": "09:00", "weekdays": [0, 1, 2, 3, 4]}

    def title(self, config):
        if config.get("mode") == "attribute":
            return (
                f"Wait until {short(config.get('attribute'), 18)}" if config.get("attribute") else self.label
            )
        return f"Wait until {config['time']}" if config.get("time") else self.label

    def waiting_exits(self, config):
        # a time of day is always ahead (the next one); a date attribute may be past already
        # (continues at once, late) or missing
        return frozenset() if config.get("mode") == "attribute" else frozenset({"next"})

    def exit_names(self, config):
        return ["next", "missing"] if config.get("mode") == "attribute" else ["next"]

    def check(self, config, ctx):
        if config.get("mode") == "attribute":
            if not config.get("attribute"):
                return [("attribute", "Choose a date attribute.")]
            return ctx.check_attribute(config["attribute"], "attribute", want="date")
        if not config.get("time"):
            return [("time", "Give a time of day, e.g. 09:00.")]
        return []

    def enter(self, run):
        cfg = run.config
        tz = run.contact_zone()
        if cfg.get("mode") == "attribute":
            raw = (run.contact.attributes or {}).get(cfg["attribute"])
            try:
                day = dt.date.fromisoformat(str(raw)[:10])
            except (TypeError, ValueError):
                return go("missing", value=str(raw)[:40] if raw is not None else None)
            day += dt.timedelta(days=int(cfg.get("offset_days", 0)))
            until = wall(day, cfg.get("time") or "09:00", tz)
        else:
            until = next_time_of_day(run.now, cfg["time"], cfg.get("weekdays"), tz)
        if until <= run.now:
            return go("next", late=True)
        return wait("timer", until=until)

    def resume(self, run, signal):
        return go("next")


NODE = WaitUntil()
