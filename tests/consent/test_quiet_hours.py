"""Quiet hours in the contact's time zone: the next allowed instant is right across DST
changes (Europe/London and America/New_York, spring and autumn)."""

import datetime as dt
import zoneinfo

import pytest

from consent.services import check, quiet_until, wall_to_instant
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

LONDON = zoneinfo.ZoneInfo("Europe/London")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
START, END = dt.time(21, 0), dt.time(8, 0)


def utc(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


# (zone, now in UTC, next allowed instant in UTC or None when allowed now)
CASES = [
    # London, spring forward on Sunday 29 March 2026 (01:00 GMT -> 02:00 BST)
    ("Europe/London", utc(2026, 3, 28, 22, 0), utc(2026, 3, 29, 7, 0)),  # 22:00 GMT -> 08:00 BST
    ("Europe/London", utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 7, 0)),  # before the change
    ("Europe/London", utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 7, 0)),  # after it (02:30 BST)
    ("Europe/London", utc(2026, 3, 29, 6, 59), utc(2026, 3, 29, 7, 0)),  # 07:59 BST
    ("Europe/London", utc(2026, 3, 29, 7, 0), None),  # 08:00 BST: allowed
    # London, fall back on Sunday 25 October 2026 (02:00 BST -> 01:00 GMT)
    ("Europe/London", utc(2026, 10, 24, 21, 0), utc(2026, 10, 25, 8, 0)),  # 22:00 BST -> 08:00 GMT
    ("Europe/London", utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 8, 0)),  # 01:30 BST, first pass
    ("Europe/London", utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 8, 0)),  # 01:30 GMT, second pass
    ("Europe/London", utc(2026, 10, 24, 19, 59), None),  # 20:59 BST: allowed
    ("Europe/London", utc(2026, 10, 24, 20, 0), utc(2026, 10, 25, 8, 0)),  # 21:00 BST: quiet
    # New York, spring forward on Sunday 8 March 2026 (02:00 EST -> 03:00 EDT)
    ("America/New_York", utc(2026, 3, 8, 3, 0), utc(2026, 3, 8, 12, 0)),  # 22:00 EST -> 08:00 EDT
    ("America/New_York", utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 12, 0)),  # 03:30 EDT
    ("America/New_York", utc(2026, 3, 8, 12, 0), None),
    # New York, fall back on Sunday 1 November 2026 (02:00 EDT -> 01:00 EST)
    ("America/New_York", utc(2026, 11, 1, 3, 0), utc(2026, 11, 1, 13, 0)),  # 23:00 EDT -> 08:00 EST
    ("America/New_York", utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 13, 0)),  # 01:30 EST (second pass)
    ("America/New_York", utc(2026, 11, 1, 12, 30), utc(2026, 11, 1, 13, 0)),  # 07:30 EST
    ("America/New_York", utc(2026, 11, 1, 13, 0), None),
]


@pytest.mark.parametrize(("zone", "now", "expected"), CASES, ids=lambda v: str(v))
def test_next_allowed_instant_across_dst(zone, now, expected):
    assert quiet_until(now, zoneinfo.ZoneInfo(zone), START, END) == expected


def test_naive_hour_arithmetic_would_be_wrong_on_those_nights():
    """What the cases above guard against: adding the hours until 08:00 as if every day had 24."""
    now = utc(2026, 3, 28, 22, 0)
    naive = now + dt.timedelta(hours=10)  # 22:00 + 10 h "is" 08:00
    assert naive.astimezone(LONDON).hour == 9  # but the clocks went forward: 09:00 BST
    assert quiet_until(now, LONDON, START, END).astimezone(LONDON).hour == 8


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected"),
    [
        (LONDON, dt.date(2026, 3, 29), dt.time(1, 30), utc(2026, 3, 29, 1, 0)),  # gap: its end, 02:00 BST
        (NEW_YORK, dt.date(2026, 3, 8), dt.time(2, 30), utc(2026, 3, 8, 7, 0)),  # gap: 03:00 EDT
        (LONDON, dt.date(2026, 10, 25), dt.time(1, 30), utc(2026, 10, 25, 0, 30)),  # twice: the first
        (NEW_YORK, dt.date(2026, 11, 1), dt.time(1, 30), utc(2026, 11, 1, 5, 30)),  # twice: the first (EDT)
        (LONDON, dt.date(2026, 7, 1), dt.time(8, 0), utc(2026, 7, 1, 7, 0)),
    ],
)
def test_wall_time_to_instant_in_gaps_and_overlaps(zone, day, wall, expected):
    assert wall_to_instant(day, wall, zone) == expected


def test_quiet_hours_ending_inside_the_spring_gap_end_when_the_gap_ends():
    # quiet 23:00-01:30, and 01:30 does not exist in London on 29 March 2026
    assert quiet_until(utc(2026, 3, 28, 23, 30), LONDON, dt.time(23, 0), dt.time(1, 30)) == utc(
        2026, 3, 29, 1, 0
    )


def test_daytime_quiet_window_that_does_not_cross_midnight():
    lunch = (dt.time(12, 0), dt.time(14, 0))
    assert quiet_until(utc(2026, 7, 1, 11, 30), LONDON, *lunch) == utc(2026, 7, 1, 13, 0)  # 12:30 BST
    assert quiet_until(utc(2026, 7, 1, 13, 0), LONDON, *lunch) is None  # 14:00 BST


def test_check_defers_collections_by_the_contact_s_own_clock(workspace):
    new_yorker = ContactFactory(workspace=workspace, timezone="America/New_York")
    londoner = ContactFactory(workspace=workspace, timezone="Europe/London")
    at = utc(2026, 11, 1, 3, 0)  # 23:00 EDT in New York, 03:00 GMT in London
    ny = check(new_yorker, "voice", "collections", at)
    uk = check(londoner, "voice", "collections", at)
    assert (ny.rule, ny.defer_until) == ("quiet_hours", utc(2026, 11, 1, 13, 0))
    assert (uk.rule, uk.defer_until) == ("quiet_hours", utc(2026, 11, 1, 8, 0))
    assert "2026-11-01 08:00 EST" in ny.reason
