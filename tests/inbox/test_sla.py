"""SLA due times count only business hours, in the workspace's time zone, across daylight-saving
changes; a conversation past its due time without a first response (or resolution) is breached
and can be filtered."""

import datetime as dt
import zoneinfo

import pytest

from cpaas.tenancy import Actor
from inbox import services, sla
from inbox.models import InboxSettings
from inbox.selectors import Viewer, conversation_list
from tests.factories import ContactFactory
from tests.inbox.conftest import make_queue

pytestmark = pytest.mark.django_db
LONDON = zoneinfo.ZoneInfo("Europe/London")
WEEKDAYS_9_TO_5 = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
SYSTEM = Actor.system("test")


def utc(*args):
    return dt.datetime(*args, tzinfo=dt.UTC)


def _workspace_in_london(workspace, hours=WEEKDAYS_9_TO_5):
    workspace.timezone = "Europe/London"
    workspace.save()
    InboxSettings.objects.update_or_create(workspace=workspace, defaults={"business_hours": hours})


def _open(workspace, queue, at, phone="+447911123456"):
    contact = ContactFactory(workspace=workspace, phone=phone)
    conversation, _ = services.conversation_open_or_reopen(
        workspace=workspace, contact=contact, actor=SYSTEM, queue=queue, now=at
    )
    return conversation


def test_a_due_time_skips_the_weekend_and_keeps_local_hours_when_the_clocks_go_forward(workspace):
    _workspace_in_london(workspace)
    queue = make_queue(workspace, "support", first_response_s=2 * 3600, resolution_s=10 * 3600)
    # Friday 27 March 2026, 16:00 in London (GMT); the clocks go forward on Sunday the 29th
    conversation = _open(workspace, queue, utc(2026, 3, 27, 16, 0))
    # 1 hour on Friday, then Monday 09:00 BST (08:00 UTC) + 1 hour
    assert conversation.first_response_due_at == utc(2026, 3, 30, 9, 0)
    # 1 hour on Friday + 8 on Monday (09:00-17:00 BST) + 1 on Tuesday from 09:00 BST
    assert conversation.resolution_due_at == utc(2026, 3, 31, 9, 0)


def test_when_the_clocks_go_back_the_working_day_starts_at_nine_local_again(workspace):
    _workspace_in_london(workspace)
    queue = make_queue(workspace, "support", first_response_s=3600)
    # Friday 23 October 2026, 16:30 BST (15:30 UTC); the clocks go back on Sunday the 25th
    conversation = _open(workspace, queue, utc(2026, 10, 23, 15, 30))
    assert conversation.first_response_due_at == utc(2026, 10, 26, 9, 30)  # 09:30 GMT


def test_an_interval_across_the_change_counts_the_time_it_really_lasts(workspace):
    _workspace_in_london(workspace, {"sun": [["00:00", "04:00"]], "mon": [["00:00", "04:00"]]})
    settings = InboxSettings.objects.get(workspace=workspace)
    # Sunday 29 March 00:00-04:00 local is 3 real hours (01:00 → 02:00 never shows)
    due = sla.add_business_seconds(
        start=utc(2026, 3, 29, 0, 0), seconds=int(3.5 * 3600), settings=settings, zone=LONDON
    )
    assert due == utc(2026, 3, 29, 23, 30)  # Monday 00:30 BST


def test_opened_outside_hours_the_clock_starts_at_opening(workspace):
    _workspace_in_london(workspace)
    queue = make_queue(workspace, "support", first_response_s=1800)
    conversation = _open(workspace, queue, utc(2026, 3, 3, 22, 0))  # Tuesday night
    assert conversation.first_response_due_at == utc(2026, 3, 4, 9, 30)


def test_without_business_hours_the_clock_always_runs_and_without_a_target_nothing_is_due(workspace):
    queue = make_queue(workspace, "support", first_response_s=600)
    conversation = _open(workspace, queue, utc(2026, 3, 7, 23, 55))  # a Saturday night
    assert conversation.first_response_due_at == utc(2026, 3, 8, 0, 5)
    assert conversation.resolution_due_at is None


def test_breached_conversations_stand_out_in_the_list_filter(workspace, admin_user):
    _workspace_in_london(workspace)
    queue = make_queue(workspace, "support", first_response_s=3600)
    late = _open(workspace, queue, utc(2026, 3, 2, 9, 0), phone="+447911000001")
    answered = _open(workspace, queue, utc(2026, 3, 2, 9, 0), phone="+447911000002")
    _open(workspace, queue, utc(2026, 3, 2, 9, 50), phone="+447911000003")  # not due yet at 10:30
    services.reply_send(
        actor=Actor.for_user(admin_user), conversation=answered, channel_kind="sms", text="On it",
        now=utc(2026, 3, 2, 9, 30),
    )  # fmt: skip
    viewer = Viewer(workspace, admin_user, True)
    breached = conversation_list(viewer, filters={"breached": True}, now=utc(2026, 3, 2, 10, 30))
    assert list(breached) == [late]
    late.refresh_from_db()
    assert late.first_response_breached(utc(2026, 3, 2, 10, 30))
    assert not late.first_response_breached(utc(2026, 3, 2, 9, 59))
