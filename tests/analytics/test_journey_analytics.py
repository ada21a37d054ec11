"""The journey analytics page (issue 15 item 3) against a hand-computed run of a real journey:
the funnel per node with each exit's share of those who entered, the median time spent, the
reasons contacts ended elsewhere than an exit, goal conversion per version (rollups), messages
by channel and status, cost from the price table, the page, its CSV and another workspace's 404."""

import csv
import datetime as dt
import io

import pytest

from analytics import rollups
from analytics.funnel import journey_analytics
from analytics.models import Price
from analytics.periods import Period, workspace_zone
from journeys.models import Enrollment, JourneyVersion
from journeys.services import enrollment_cancel, journey_publish
from tests.analytics.conftest import utc
from tests.factories import ContactFactory
from tests.journeys.conftest import graph, node

pytestmark = pytest.mark.django_db
T0 = utc(2026, 3, 2, 10)

GRAPH = graph(
    trigger=node("trigger.event", {"event": "signup"}, next="wait"),
    wait=node("wait.event", {"event": "purchase", "timeout_s": 3600}, event="done", timeout="nudge"),
    nudge=node(
        "message.send",
        {"channel": "sms", "template": {"en": "Still thinking it over?"}},
        next=None,
        failed=None,
    ),
    done=node("exit", {}),
    won=node("goal", {"event": "app_opened"}),
)


def at(minutes):
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def run(workspace, publish, fire, tick, actor):
    journey = publish(GRAPH, name="Nudge")
    c = {i: ContactFactory(workspace=workspace, timezone="Europe/London") for i in range(1, 6)}
    for i in c:
        fire(c[i], "signup", now=at(0))
    tick(at(0))
    enrollment_cancel(
        enrollment=Enrollment.objects.get(contact=c[5]), actor=actor, reason="asked us to stop", now=at(5)
    )
    fire(c[1], "purchase", now=at(10))
    tick(at(10))
    fire(c[4], "app_opened", now=at(20))
    tick(at(20))
    fire(c[2], "purchase", now=at(30))
    tick(at(30))
    tick(at(61))  # c3 waited an hour: the nudge
    rollups.refresh(now=at(120))
    Price.objects.create(workspace=workspace, kind="sms", country="GB", price="0.0400", currency="GBP")
    Price.objects.create(workspace=workspace, kind="sms", country="", price="0.0900", currency="GBP")
    return journey


def _csv(response):
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def period(ws):
    return Period(dt.date(2026, 3, 1), dt.date(2026, 3, 3), workspace_zone(ws))


def test_funnel_shares_times_reasons_versions_messages_and_cost(run, workspace):
    data = journey_analytics(workspace=workspace, journey=run, period=period(workspace))
    nodes = {n["node"]: n for n in data["nodes"]}
    assert [n["node"] for n in data["nodes"]] == ["trigger", "wait", "done", "nudge", "won"]
    wait = nodes["wait"]
    assert (wait["entered"], wait["waiting"], wait["failed"], wait["ended_here"]) == (5, 0, 0, 2)
    assert [(x["exit"], x["count"], x["share"], x["to"]) for x in wait["exits"]] == [
        ("event", 2, 0.4, "done"),
        ("timeout", 1, 0.2, "nudge"),
    ]
    assert wait["median_s"] == 1800.0  # 600, 1800 and 3660 s: c1, c2, c3 (c4 and c5 left otherwise)
    assert nodes["trigger"]["exits"][0]["share"] == 1.0
    assert (nodes["nudge"]["entered"], nodes["won"]["entered"]) == (1, 1)
    assert (nodes["done"]["completed"], nodes["done"]["ended_here"], nodes["won"]["completed"]) == (2, 0, 1)
    assert data["reasons"] == [
        {"node": "wait", "status": "cancelled", "reason": "asked us to stop", "contacts": 1}
    ]
    (v1,) = data["conversions"]["versions"]
    assert (v1["version"], v1["enrolments"], v1["conversions"], v1["rate"]) == (1, 5, 1, 0.2)
    assert [s["rate"] for s in v1["series"]] == [None, 0.2, 0.2]
    assert data["messages"] == [
        {"channel": "sms", "status": "sent", "code": "", "messages": 1, "segments": 1}
    ]
    cost = data["cost"]
    assert (cost["total"], cost["currency"], cost["per_conversion"]) == ("0.04000", "GBP", "0.04000")


def test_versions_side_by_side(run, workspace, publish, fire, tick, actor):
    JourneyVersion.objects.create(journey=run, graph=GRAPH)  # a new draft, published as v2
    journey_publish(journey=run, actor=actor, now=at(100))
    c = ContactFactory(workspace=workspace)
    fire(c, "signup", now=utc(2026, 3, 3, 10))
    tick(utc(2026, 3, 3, 10))
    fire(c, "app_opened", now=utc(2026, 3, 3, 11))
    tick(utc(2026, 3, 3, 11))
    rollups.refresh(now=utc(2026, 3, 3, 12))
    data = journey_analytics(workspace=workspace, journey=run, period=period(workspace))
    rows = {
        v["version"]: (v["enrolments"], v["conversions"], v["rate"]) for v in data["conversions"]["versions"]
    }
    assert rows == {1: (5, 1, 0.2), 2: (1, 1, 1.0)}


def test_page_shows_the_numbers_and_the_csv_holds_them(run, workspace, marketer_client, other_client):
    url = f"/analytics/journeys/{run.pk}/?from=2026-03-01&to=2026-03-03"
    page = marketer_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="table-funnel"' in html and "40.0 %" in html and "30 min" in html
    assert "asked us to stop" in html and 'data-chart="chart-funnel"' in html
    assert "0.04000 GBP" in html
    response = marketer_client.get(url + "&format=csv&chart=funnel")
    assert response["Content-Type"].startswith("text/csv")
    rows = _csv(response)
    assert rows[0][:6] == ["node", "type", "entered", "exit", "left by the exit", "share of entered"]
    assert ["wait", "wait.event", "5", "event", "2", "40.0 %", "done", "0", "0", "0", "2", "30 min"] in rows
    assert marketer_client.get(url + "&format=csv&chart=nope").status_code == 404
    rows = _csv(marketer_client.get(url + "&format=csv&chart=chart-versions"))
    assert rows[0] == ["date", "v1 enrolments", "v1 conversions", "v1 rate (%)"]
    assert rows[2] == ["2026-03-02", "5", "1", "20.0"]
    assert other_client.get(url).status_code == 404


def test_a_bad_period_says_which_field(run, marketer_client):
    page = marketer_client.get(f"/analytics/journeys/{run.pk}/?from=2026-03-09&to=2026-03-01")
    assert page.status_code == 200
    assert "The period starts (2026-03-09) after it ends (2026-03-01)." in page.content.decode()


def test_without_a_price_there_is_no_cost_per_conversion(run, workspace):
    Price.objects.filter(workspace=workspace).delete()
    cost = journey_analytics(workspace=workspace, journey=run, period=period(workspace))["cost"]
    assert (cost["unpriced"], cost["per_conversion"], cost["channels"][0]["cost"]) == (["sms"], None, None)


def test_a_live_refresh_gets_the_figures_only(run, marketer_client):
    html = marketer_client.get(f"/analytics/journeys/{run.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<div id="journey-figures"') and "<h1>" not in html
    assert 'data-refresh-on="journey.counts analytics.changed"' in html and 'id="table-funnel"' in html
