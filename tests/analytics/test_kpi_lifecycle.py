"""Lifecycle (issue 15 item 4) against a hand-computed fixture: stages from the workspace's
rules (events ever or within N days, an attribute value), the highest matching stage wins,
snapshots at the end of each New York day, and the flows between consecutive snapshots."""

import datetime as dt

import pytest

from analytics.kpis import lifecycle
from analytics.models import LifecycleRule
from analytics.periods import Period, workspace_zone
from tests.analytics.conftest import utc
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(new_york, fire):
    ws = new_york
    for stage, source, key, value, within in [
        ("awareness", "event", "signup", "", None),
        ("engagement", "event", "app_opened", "", 7),
        ("conversion", "event", "purchase", "", None),
        ("retention", "event", "purchase", "", 30),
        ("loyalty", "attribute", "tier", "gold", None),
    ]:
        LifecycleRule.objects.create(
            workspace=ws, stage=stage, source=source, key=key, value=value, within_days=within
        )
    p = {k: ContactFactory(workspace=ws) for k in "abcdef"}
    p["d"].attributes = {"tier": "Gold"}
    p["d"].save(update_fields=["attributes"])
    fire(p["a"], "signup", now=utc(2026, 2, 1, 12))
    fire(p["b"], "signup", now=utc(2026, 2, 1, 12))
    fire(p["b"], "app_opened", now=utc(2026, 3, 2, 15))
    fire(p["c"], "purchase", now=utc(2026, 1, 1, 12))
    fire(p["c"], "purchase", now=utc(2026, 3, 4, 4, 30))  # 3 March 23:30 EST
    fire(p["f"], "app_opened", now=utc(2026, 2, 25, 14))  # engaged until 4 March 14:00 UTC
    return p


def test_stages_by_day_now_and_flows(people, new_york):
    ws = new_york
    report = lifecycle(
        workspace=ws,
        period=Period(dt.date(2026, 3, 1), dt.date(2026, 3, 7), workspace_zone(ws)),
        now=utc(2026, 3, 20),
    )
    now = {r["stage"]: r["contacts"] for r in report["now"]}
    assert now == {
        "awareness": 2,
        "engagement": 0,
        "conversion": 0,
        "retention": 1,
        "loyalty": 1,
        "unstaged": 2,
    }
    series = {r["date"]: r for r in report["series"]}
    stages = ["awareness", "engagement", "conversion", "retention", "loyalty", "unstaged"]
    assert [series["2026-03-01"][s] for s in stages] == [2, 1, 1, 0, 1, 1]
    assert [series["2026-03-03"][s] for s in stages] == [1, 2, 0, 1, 1, 1]  # c retained on 3 March, New York
    assert [series["2026-03-04"][s] for s in stages] == [1, 1, 0, 1, 1, 2]
    assert [series["2026-03-07"][s] for s in stages] == [1, 1, 0, 1, 1, 2]
    assert report["flows"] == [
        {"from": "awareness", "to": "engagement", "contacts": 1},
        {"from": "engagement", "to": "unstaged", "contacts": 1},
        {"from": "conversion", "to": "retention", "contacts": 1},
    ]


def test_without_rules_everyone_is_unstaged(new_york):
    ContactFactory(workspace=new_york)
    report = lifecycle(
        workspace=new_york,
        period=Period(dt.date(2026, 3, 1), dt.date(2026, 3, 2), workspace_zone(new_york)),
        now=utc(2026, 3, 20),
    )
    assert report["rules"] == 0 and {r["stage"]: r["contacts"] for r in report["now"]}["unstaged"] == 1


def test_the_stage_now_counts_events_after_the_period(people, new_york, fire):
    late = ContactFactory(workspace=new_york)
    fire(late, "app_opened", now=utc(2026, 3, 15, 12))  # after the period, before `now`
    report = lifecycle(
        workspace=new_york,
        period=Period(dt.date(2026, 3, 1), dt.date(2026, 3, 7), workspace_zone(new_york)),
        now=utc(2026, 3, 20),
    )
    assert {r["stage"]: r["contacts"] for r in report["now"]}["engagement"] == 1
    assert {r["date"]: r["unstaged"] for r in report["series"]}["2026-03-07"] == 3  # e, f and the late one
