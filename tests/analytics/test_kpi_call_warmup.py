"""Call warm-up (issue 15 item 4) against a hand-computed fixture: a contact's first call ever,
warmed up when a warm-up journey's message left in the 24 hours before it (the 24th hour
included, one second more not), in a New York workspace (a call at 22:00 EST on the period's
last day is in the period though it is the next day in UTC)."""

import datetime as dt

import pytest

from analytics.kpis import WARMUP_TEMPLATE, call_warmup
from analytics.periods import Period, workspace_zone
from tests.analytics.conftest import utc
from tests.factories import ContactFactory
from tests.journeys.conftest import graph, node

pytestmark = pytest.mark.django_db


def send(text):
    return node("message.send", {"channel": "sms", "purpose": "collections", "template": {"en": text}},
                next=None, failed=None)  # fmt: skip


def period(ws):
    return Period(dt.date(2026, 3, 1), dt.date(2026, 3, 7), workspace_zone(ws))


@pytest.fixture
def calls(new_york, publish, fire, tick):
    ws = new_york
    warmup = publish(graph(trigger=node("trigger.event", {"event": "signup"}, next="sms"),
                           sms=send("An adviser will call you tomorrow.")), name="Warm-up")  # fmt: skip
    warmup.template_key = WARMUP_TEMPLATE
    warmup.save(update_fields=["template_key"])
    other = publish(graph(trigger=node("trigger.event", {"event": "cart_abandoned"}, next="sms"),
                          sms=send("Your cart misses you.")), name="Other")  # fmt: skip
    c = {k: ContactFactory(workspace=ws, timezone="America/New_York") for k in
         ("w1", "w2", "w3", "n1", "n2", "n3", "n4")}  # fmt: skip
    for k in ("w1", "w2", "w3"):
        fire(c[k], "signup", now=utc(2026, 3, 2, 14))
    fire(c["n1"], "cart_abandoned", now=utc(2026, 3, 3, 13, 30))
    tick(utc(2026, 3, 2, 14))
    tick(utc(2026, 3, 3, 13, 30))
    fire(c["w1"], "call.answered", now=utc(2026, 3, 3, 13))  # 23 h after the warm-up
    fire(c["w2"], "call.no_answer", now=utc(2026, 3, 3, 14))  # exactly 24 h after: warmed up
    fire(c["w3"], "call.answered", now=utc(2026, 3, 3, 14, 0, 1))  # 24 h and 1 s: not warmed up
    fire(c["n1"], "call.no_answer", now=utc(2026, 3, 3, 14, 30))  # another journey's message is no warm-up
    fire(c["n2"], "call.busy", now=utc(2026, 3, 3, 11))  # first call busy...
    fire(c["n2"], "call.answered", now=utc(2026, 3, 3, 12))  # ...the second is not a first call
    fire(c["n3"], "call.no_answer", now=utc(2026, 2, 20, 15))  # first call before the period
    fire(c["n3"], "call.answered", now=utc(2026, 3, 3, 15))
    fire(c["n4"], "call.no_answer", now=utc(2026, 3, 8, 3))  # 7 March 22:00 EST: in the period
    return warmup, other, c


def test_first_time_pickup_with_and_without_warmup(calls, new_york):
    report = call_warmup(workspace=new_york, period=period(new_york), now=utc(2026, 3, 20))
    with_, without = report["with_warmup"], report["without_warmup"]
    assert (with_["calls"], with_["answered"], with_["no_answer"], with_["pickup_rate"]) == (2, 1, 1, 0.5)
    assert (without["calls"], without["answered"], without["no_answer"], without["busy"]) == (4, 1, 2, 1)
    assert without["pickup_rate"] == 0.25
    assert report["uplift"] == 0.25
    days = {r["date"]: r["without_warmup"]["calls"] for r in report["daily"]}
    assert days["2026-03-07"] == 1 and days["2026-03-03"] == 3


def test_the_warmup_journeys_can_be_chosen(calls, new_york):
    warmup, other, c = calls
    report = call_warmup(workspace=new_york, period=period(new_york), now=utc(2026, 3, 20),
                         warmup_journey_ids=[other.pk])  # fmt: skip
    # n1's cart message 1 h before the call now counts as the warm-up
    assert (report["with_warmup"]["calls"], report["with_warmup"]["answered"]) == (1, 0)
    assert report["without_warmup"]["calls"] == 5


def test_a_utc_day_is_not_the_period(calls, new_york):
    ws = new_york
    report = call_warmup(workspace=ws, period=Period(dt.date(2026, 3, 8), dt.date(2026, 3, 8), workspace_zone(ws)),
                         now=utc(2026, 3, 20))  # fmt: skip
    assert report["with_warmup"]["calls"] + report["without_warmup"]["calls"] == 0


def test_another_workspace_sees_none_of_it(calls, other_workspace):
    report = call_warmup(workspace=other_workspace, period=period(other_workspace), now=utc(2026, 3, 20))
    assert report["without_warmup"]["calls"] == 0 and report["warmup_journeys"] == []
