"""Promise to pay (issue 15 item 4) against a hand-computed fixture, driven through the real
engine and dispatcher: the 7 days are the workspace's calendar days (New York, across the switch
to summer time on 8 March 2026), a payment one minute before local midnight of the 8th day counts
and one at that midnight does not; a day of the period is a New York day, not a UTC day."""

import datetime as dt
from decimal import Decimal

import pytest

from analytics.kpis import promise_to_pay
from analytics.periods import Period, workspace_zone
from experiments.models import Experiment, ExperimentAssignment
from journeys.models import PromiseToPay
from tests.analytics.conftest import utc
from tests.factories import ContactFactory
from tests.journeys.conftest import graph, node, reply

pytestmark = pytest.mark.django_db

ASK = {"channel": "sms", "purpose": "collections", "template": {"en": "When can you pay?"},
       "timeout_s": 2 * 86400, "currency": "USD", "remind_at": "09:00"}  # fmt: skip
PTP = graph(
    trigger=node("trigger.event", {"event": "signup"}, next="ptp"),
    ptp=node("payment.promise", ASK, paid=None, broken=None, no_response=None, failed=None),
)


def period(ws, first, last):
    return Period(dt.date(2026, 3, first), dt.date(2026, 3, last), workspace_zone(ws))


@pytest.fixture
def cohorts(new_york, publish, fire, tick):
    """Cohort A asked on Monday 2 March 14:00 EST (19:00 UTC), cohort B on Tuesday 3 March
    20:00 EST (Wednesday 01:00 UTC). A's 7 days end at 10 March 00:00 EDT (04:00 UTC), B's at
    11 March 00:00 EDT (04:00 UTC)."""
    ws = new_york
    journey = publish(PTP)
    c = {i: ContactFactory(workspace=ws, timezone="America/New_York", language="en") for i in range(1, 7)}
    fire(c[3], "payment_completed", now=utc(2026, 3, 2, 18), amount=25)  # before the message
    for i in (1, 2, 3, 4):
        fire(c[i], "signup", now=utc(2026, 3, 2, 19))
    tick(utc(2026, 3, 2, 19))
    for i in (5, 6):
        fire(c[i], "signup", now=utc(2026, 3, 4, 1))
    tick(utc(2026, 3, 4, 1))
    reply(c[1], "tomorrow 80", now=utc(2026, 3, 2, 20))  # promises 80 on 3 March, never in time
    reply(c[4], "tomorrow 40", now=utc(2026, 3, 2, 20))  # promises 40 on 3 March, keeps it
    tick(utc(2026, 3, 2, 20))
    fire(c[4], "payment_completed", now=utc(2026, 3, 3, 15), amount=40)
    tick(utc(2026, 3, 3, 15))
    tick(utc(2026, 3, 4, 6))  # 3 March has passed in New York: c1's promise is broken
    fire(c[1], "payment_completed", now=utc(2026, 3, 10, 3, 30), amount=80)  # 9 March 23:30 EDT: in
    fire(c[2], "payment_completed", now=utc(2026, 3, 10, 4), amount=50)  # 10 March 00:00 EDT: out
    fire(c[5], "payment_completed", now=utc(2026, 3, 11, 2), amount=30)  # 10 March 22:00 EDT: in
    fire(c[6], "payment_completed", now=utc(2026, 3, 11, 12), amount=60)  # 11 March 08:00 EDT: out
    tick(utc(2026, 3, 11, 12))
    return journey, c


def test_paid_within_seven_local_days_promises_and_amounts(cohorts, new_york):
    journey, c = cohorts
    assert PromiseToPay.objects.get(contact=c[1]).status == "broken"
    assert PromiseToPay.objects.get(contact=c[4]).status == "paid"
    # when
    report = promise_to_pay(workspace=new_york, period=period(new_york, 1, 7), now=utc(2026, 3, 20))
    # then: c1 (23:30 on day 7), c4 and c5 paid in their 7 days; c2 at midnight, c3 before the
    # message and c6 on day 8 did not
    overall = report["overall"]
    assert (overall["asked"], overall["closed"], overall["window_open"], overall["paid_7d"]) == (6, 6, 0, 3)
    assert overall["paid_rate"] == 0.5
    assert (overall["promises"], overall["kept"], overall["broken"], overall["open_promises"]) == (2, 1, 1, 0)
    assert Decimal(overall["amount_promised"]) == Decimal("120")
    assert Decimal(overall["amount_paid"]) == Decimal("150")  # 80 + 40 + 30: payments within the 7 days
    assert [(r["channel"], r["asked"], r["paid_7d"]) for r in report["by_channel"]] == [("sms", 6, 3)]
    assert [(r["variant"], r["asked"]) for r in report["by_variant"]] == [("no experiment", 6)]
    days = {r["date"]: (r["asked"], r["paid_7d"]) for r in report["daily"]}
    assert days["2026-03-02"] == (4, 2) and days["2026-03-03"] == (2, 1) and days["2026-03-04"] == (0, 0)


def test_a_period_day_is_a_new_york_day(cohorts, new_york):
    # cohort B's message left on Wednesday 4 March in UTC, Tuesday 3 March in New York
    report = promise_to_pay(workspace=new_york, period=period(new_york, 3, 3), now=utc(2026, 3, 20))
    assert (report["overall"]["asked"], report["overall"]["paid_7d"]) == (2, 1)
    report = promise_to_pay(workspace=new_york, period=period(new_york, 4, 4), now=utc(2026, 3, 20))
    assert report["overall"]["asked"] == 0


def test_contacts_whose_seven_days_have_not_ended_are_not_in_the_rate(cohorts, new_york):
    # 10 March 12:00 UTC: A's days ended at 04:00 UTC, B's end on 11 March
    report = promise_to_pay(workspace=new_york, period=period(new_york, 1, 7), now=utc(2026, 3, 10, 12))
    overall = report["overall"]
    assert (overall["closed"], overall["window_open"], overall["paid_7d"], overall["paid_rate"]) == (
        4,
        2,
        2,
        0.5,
    )
    # one second before A's end, nobody's days have ended: no rate rather than a wrong one
    report = promise_to_pay(
        workspace=new_york, period=period(new_york, 1, 7), now=utc(2026, 3, 10, 3, 59, 59)
    )
    assert (report["overall"]["closed"], report["overall"]["paid_rate"]) == (0, None)


def test_by_variant_of_the_journeys_experiment(cohorts, new_york):
    journey, c = cohorts
    exp = Experiment.objects.create(
        workspace=new_york, journey_id=journey.pk, node="split", name="Wording",
        variants=[{"exit": "a", "name": "Friendly", "weight": 50, "control": True},
                  {"exit": "b", "name": "Firm", "weight": 50}],
    )  # fmt: skip
    for i, arm in [(1, "a"), (2, "a"), (4, "b"), (5, "b")]:
        ExperimentAssignment.objects.create(
            workspace=new_york, experiment=exp, contact=c[i], variant=arm, exposed_at=utc(2026, 3, 2, 18)
        )
    report = promise_to_pay(workspace=new_york, period=period(new_york, 1, 7), now=utc(2026, 3, 20))
    rows = {r["variant"]: (r["asked"], r["paid_7d"], r["paid_rate"]) for r in report["by_variant"]}
    assert rows == {
        "Wording: Friendly": (2, 1, 0.5),
        "Wording: Firm": (2, 2, 1.0),
        "no experiment": (2, 0, 0.0),
    }


def test_another_workspace_sees_none_of_it(cohorts, other_workspace):
    report = promise_to_pay(
        workspace=other_workspace, period=period(other_workspace, 1, 7), now=utc(2026, 3, 20)
    )
    assert report["overall"]["asked"] == 0
