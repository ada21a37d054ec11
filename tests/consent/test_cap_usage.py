"""cap_usage(): the attempt counter an agent sees (the 7-in-7 call rule) counts exactly what
check() counts, and says when the next call is allowed."""

import datetime as dt

import pytest

from consent import services
from consent.selectors import cap_usage
from consent.services import check
from tests.consent.conftest import NOON

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def calls(contact, ages, channel="voice", purpose="collections"):
    for age in ages:
        services.send_recorded(contact=contact, channel_kind=channel, purpose=purpose, at=NOON - age)


def usage(contact, channel="voice", purpose="collections", at=NOON):
    return cap_usage(
        workspace=contact.workspace, contact=contact, purpose=purpose, channel_kind=channel, at=at
    )


def test_the_counter_follows_the_seven_in_seven_rule(contact):
    calls(contact, [DAY * n + dt.timedelta(hours=1) for n in range(6)])  # 6 calls in 6 days
    calls(contact, [7 * DAY], channel="voice")  # exactly 7 days ago: out of the window
    calls(contact, [DAY], channel="sms")  # a text is not a call
    calls(contact, [DAY], purpose="transactional")  # nor is a call about something else
    (counter,) = usage(contact)
    assert (counter.used, counter.cap.limit, counter.full, counter.next_at) == (6, 7, False, None)
    assert check(contact, "voice", "collections", NOON, sent_by="person").outcome == "allow"
    calls(contact, [dt.timedelta(hours=2)])
    (counter,) = usage(contact)
    assert (counter.used, counter.full) == (7, True)
    decision = check(contact, "voice", "collections", NOON, sent_by="person")  # an agent's call too
    assert decision.rule == "frequency_cap"
    assert counter.next_at == decision.defer_until == NOON - (5 * DAY + dt.timedelta(hours=1)) + 7 * DAY


def test_no_cap_no_counter(contact):
    assert usage(contact, channel="sms") == []
