"""Time zones of quiet hours (issue 11 items 8-10): a deferral is always to the right future
instant, on both DST nights, in both hemispheres; a stored zone that names nothing falls back for
that contact alone; a contact without a zone is judged by the zone its phone number is in."""

import datetime as dt
import zoneinfo

import pytest

from consent import services
from consent.services import check, check_many, quiet_until
from consent.services.decisions import in_quiet
from contacts.models import Contact
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


# --- item 8: a repeated hour ---------------------------------------------------------------------


def test_the_second_pass_of_a_repeated_hour_ends_at_the_second_pass_of_the_end():
    # London falls back on 25 October 2026: 01:00-02:00 happens twice. Quiet 21:00-01:30.
    london = zoneinfo.ZoneInfo("Europe/London")
    second_pass = utc(2026, 10, 25, 1, 15)  # 01:15 GMT, after 01:59 BST has passed
    until = quiet_until(second_pass, london, dt.time(21), dt.time(1, 30))
    assert until == utc(2026, 10, 25, 1, 30)  # 01:30 GMT; 01:30 BST (00:30 UTC) is in the past
    first_pass = utc(2026, 10, 25, 0, 15)  # 01:15 BST
    assert quiet_until(first_pass, london, dt.time(21), dt.time(1, 30)) == utc(2026, 10, 25, 0, 30)


# Zones with both DST changes in 2026, north and south (Sydney, Auckland, Santiago change in
# April and September/October; Lord Howe by half an hour; Santiago at midnight).
ZONES = {
    "Europe/London": [dt.date(2026, 3, 29), dt.date(2026, 10, 25)],
    "America/New_York": [dt.date(2026, 3, 8), dt.date(2026, 11, 1)],
    "Australia/Sydney": [dt.date(2026, 4, 5), dt.date(2026, 10, 4)],
    "Pacific/Auckland": [dt.date(2026, 4, 5), dt.date(2026, 9, 27)],
    "America/Santiago": [dt.date(2026, 4, 5), dt.date(2026, 9, 6)],
    "Australia/Lord_Howe": [dt.date(2026, 4, 5), dt.date(2026, 10, 4)],
}
WINDOWS = [
    (dt.time(21), dt.time(8)),
    (dt.time(21), dt.time(1, 30)),  # ends inside the northern repeated hour
    (dt.time(21), dt.time(2, 30)),  # ends inside the southern repeated hour / spring gap
    (dt.time(22, 30), dt.time(0, 15)),  # Santiago changes at midnight
    (dt.time(1, 0), dt.time(2, 45)),  # inside the night, not across midnight
]


def _quiet_at(t: dt.datetime, tz, window) -> bool:
    return in_quiet(t.astimezone(tz).time().replace(tzinfo=None), *window)


@pytest.mark.parametrize("zone", sorted(ZONES))
def test_every_deferral_is_to_the_first_allowed_instant_in_the_future(zone):
    tz = zoneinfo.ZoneInfo(zone)
    for day in ZONES[zone]:
        start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(12), tzinfo=UTC)
        for window in WINDOWS:
            for step in range(0, 48 * 60, 10):  # every 10 minutes over two days around the change
                at = start + dt.timedelta(minutes=step)
                until = quiet_until(at, tz, *window)
                if until is None:
                    assert not _quiet_at(at, tz, window)
                    continue
                assert until > at, (zone, window, at, until)
                assert not _quiet_at(until, tz, window), (zone, window, at, until)
                # the right one: every instant before it is still quiet
                probe = at
                while probe < until:
                    assert _quiet_at(probe, tz, window), (zone, window, at, until, probe)
                    probe += dt.timedelta(minutes=5)
                assert _quiet_at(until - dt.timedelta(seconds=1), tz, window), (zone, window, at, until)


def test_check_defers_into_the_future_in_the_repeated_hour(workspace, admin_user):
    from cpaas.tenancy import Actor

    services.policy_update(
        workspace=workspace,
        actor=Actor.for_user(admin_user),
        quiet_start=dt.time(21),
        quiet_end=dt.time(1, 30),
        fuzzy_keywords=False,
    )
    contact = ContactFactory(workspace=workspace, timezone="Europe/London")
    at = utc(2026, 10, 25, 1, 15)
    decision = check(contact, "sms", "surveys", at)
    assert decision.rule == "quiet_hours" and decision.defer_until == utc(2026, 10, 25, 1, 30)


# --- item 9: a stored zone that names nothing ------------------------------------------------


@pytest.mark.parametrize("bad", ["America", "", "garbage", "Not/A_Zone", "../../etc/passwd"])
def test_a_bad_time_zone_falls_back_for_that_contact_only(workspace, bad):
    workspace.timezone = "Europe/London"
    workspace.save()
    good = ContactFactory(workspace=workspace, phone="+12125550100", timezone="America/New_York")
    broken = ContactFactory(workspace=workspace, phone=None, email="x@example.com")
    Contact.objects.filter(pk=broken.pk).update(timezone=bad)  # stored around the form's validator
    broken.refresh_from_db()
    at = utc(2026, 5, 4, 23, 0)  # 19:00 in New York, 00:00 in London
    decisions = check_many([good, broken], "email", "surveys", at)
    assert decisions[good.pk].outcome == "allow"
    assert decisions[broken.pk].rule == "quiet_hours" and "Europe/London" in decisions[broken.pk].reason


def test_a_time_zone_of_the_wrong_type_falls_back_too(workspace):
    contact = ContactFactory(workspace=workspace, phone=None, email="y@example.com")
    for value in (None, 5, ["Europe/London"], "Europe/London\x00"):  # (PostgreSQL stores no NUL)
        contact.timezone = value
        assert check(contact, "email", "surveys", utc(2026, 5, 4, 12, 0)).outcome == "allow"


def test_a_bad_workspace_zone_falls_back_to_utc(workspace):
    from cpaas.models import Workspace

    Workspace.objects.filter(pk=workspace.pk).update(timezone="America")
    contact = ContactFactory(
        workspace=Workspace.objects.get(pk=workspace.pk), phone=None, email="z@example.com"
    )
    decision = check(contact, "email", "surveys", utc(2026, 5, 4, 22, 0))
    assert decision.rule == "quiet_hours" and "UTC" in decision.reason


# --- item 10: the zone of the phone number ---------------------------------------------------


@pytest.fixture
def london_workspace(workspace):
    workspace.timezone = "Europe/London"
    workspace.save()
    return workspace


def test_a_new_zealand_mobile_in_a_london_workspace_is_not_messaged_at_night_in_new_zealand(london_workspace):
    kiwi = ContactFactory(workspace=london_workspace, phone="+64211234567", timezone="")
    at = utc(2026, 12, 7, 9, 0)  # 09:00 in London, 22:00 in Auckland (NZDT)
    decision = check(kiwi, "sms", "collections", at)
    assert decision.rule == "quiet_hours" and "Pacific/Auckland" in decision.reason
    assert decision.defer_until == utc(2026, 12, 7, 19, 0)  # 08:00 NZDT on the 8th


def test_a_new_york_number_follows_new_york_time_not_the_workspace(london_workspace):
    new_yorker = ContactFactory(workspace=london_workspace, phone="+12125550123", timezone="")
    at = utc(2026, 5, 4, 22, 0)  # 23:00 in London (quiet), 18:00 in New York
    assert check(new_yorker, "sms", "collections", at).outcome == "allow"
    late = utc(2026, 5, 5, 2, 0)  # 22:00 in New York
    assert check(new_yorker, "sms", "collections", late).defer_until == utc(2026, 5, 5, 12, 0)


def test_a_toll_free_number_says_nothing_about_the_zone(london_workspace):
    caller = ContactFactory(workspace=london_workspace, phone="+18005550123", timezone="")
    decision = check(caller, "sms", "collections", utc(2026, 5, 4, 22, 0))
    assert decision.rule == "quiet_hours" and "Europe/London" in decision.reason


def test_the_contact_s_own_zone_wins_over_the_number(london_workspace):
    traveller = ContactFactory(workspace=london_workspace, phone="+64211234567", timezone="Europe/London")
    assert check(traveller, "sms", "collections", utc(2026, 12, 7, 9, 0)).outcome == "allow"
