"""Durations as people write them: "7 days", "2 h 30 min", "90 s". `duration_format` and
`duration_parse` are the one pair every wait, timeout and delay field uses (the editor's node
forms); stored values stay whole seconds."""

from __future__ import annotations

import re

UNITS = (("day", 86400), ("h", 3600), ("min", 60), ("s", 1))
# every spelling accepted for each unit (lower case)
SPELLINGS = {
    "w": 604800, "wk": 604800, "wks": 604800, "week": 604800, "weeks": 604800,
    "d": 86400, "day": 86400, "days": 86400,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
}  # fmt: skip
PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*([a-z]+)")
HINT = "Write a duration such as 7 days, 2 h 30 min or 45 s."


def duration_format(seconds: int | float | None) -> str:
    """604800 -> "7 days", 9000 -> "2 h 30 min", 90061 -> "1 day 1 h 1 min 1 s"."""
    if seconds in (None, ""):
        return ""
    seconds = int(seconds)
    if seconds <= 0:
        return f"{seconds} s"
    parts = []
    for unit, size in UNITS:
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n} {unit}{'s' if unit == 'day' and n > 1 else ''}")
    return " ".join(parts)


def duration_parse(text: str) -> int | None:
    """The seconds a typed duration means, or None for an empty one. A ValueError says what is
    wrong in words. A bare number is seconds (what the field held before)."""
    raw = (text or "").strip().lower()
    if not raw:
        return None
    if re.fullmatch(r"\d+", raw):
        return int(raw)
    cleaned = re.sub(r"\band\b|,(?!\d)", " ", raw)
    total, end, seen = 0.0, 0, set()
    for match in PART.finditer(cleaned):
        if cleaned[end : match.start()].strip():
            break
        number, unit = match.groups()
        if unit not in SPELLINGS:
            raise ValueError(f"'{unit}' is not a unit of time. {HINT}")
        if SPELLINGS[unit] in seen:
            raise ValueError(f"'{raw}' names the same unit twice. {HINT}")
        seen.add(SPELLINGS[unit])
        total += float(number.replace(",", ".")) * SPELLINGS[unit]
        end = match.end()
    if not seen or cleaned[end:].strip():
        raise ValueError(f"'{text.strip()}' is not a duration. {HINT}")
    if total != int(total):
        raise ValueError(f"'{text.strip()}' is not a whole number of seconds. {HINT}")
    if total < 1:
        raise ValueError("A duration must be at least 1 second.")
    return int(total)
