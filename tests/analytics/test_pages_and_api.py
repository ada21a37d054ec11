"""The KPI report pages and their CSV, the analytics API (journey funnel, KPIs) in the OpenAPI
schema with another workspace's token answered 404, and the analytics settings (price table,
lifecycle rules) with their field errors."""

import csv
import io

import pytest

from analytics.models import LifecycleRule, Price
from cpaas.models import AuditEntry
from tests.analytics.conftest import utc
from tests.conftest import client_for
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls(workspace, fire):
    for name in ("call.answered", "call.no_answer", "call.no_answer"):
        fire(ContactFactory(workspace=workspace), name, now=utc(2026, 3, 3, 12))


def _csv(response):
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


@pytest.mark.parametrize("kind", ["promise-to-pay", "call-warmup", "otp", "lifecycle"])
def test_every_report_renders_with_its_chart_and_tables(kind, marketer_client):
    page = marketer_client.get(f"/analytics/kpis/{kind}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-chart="chart-kpi"' in html and 'id="chart-kpi-table"' in html and 'id="table-' in html


def test_the_warmup_report_and_its_csv(calls, marketer_client):
    url = "/analytics/kpis/call-warmup/?from=2026-03-01&to=2026-03-07"
    html = marketer_client.get(url).content.decode()
    assert "<b>33 %</b> without" in html
    rows = _csv(marketer_client.get(url + "&format=csv&chart=chart-kpi"))
    assert rows == [
        ["warm-up message", "first calls", "answered", "no answer", "busy", "pickup rate (%)"],
        ["with", "0", "0", "0", "0", ""],
        ["without", "3", "1", "2", "0", "33.3"],
    ]


def test_report_errors_name_the_field(marketer_client):
    html = marketer_client.get("/analytics/kpis/call-warmup/?from=yesterday&window_h=0").content.decode()
    assert "&#x27;yesterday&#x27; is not a date (YYYY-MM-DD)." in html
    assert "Hours before the call: a whole number from 1 to 720." in html
    assert marketer_client.get("/analytics/kpis/nothing/").status_code == 404


def test_agents_do_not_see_reports(agent):
    assert client_for(agent).get("/analytics/kpis/otp/").status_code == 403


def test_kpi_api_and_its_errors(calls, api, other_api):
    response = api.get("/api/v1/analytics/kpis/call-warmup/", {"from": "2026-03-01", "to": "2026-03-07"})
    assert response.status_code == 200
    assert (response.json()["without_warmup"]["calls"], response.json()["without_warmup"]["answered"]) == (
        3,
        1,
    )
    response = other_api.get(
        "/api/v1/analytics/kpis/call-warmup/", {"from": "2026-03-01", "to": "2026-03-07"}
    )
    assert response.json()["without_warmup"]["calls"] == 0
    response = api.get("/api/v1/analytics/kpis/call-warmup/", {"to": "2026-13-01"})
    assert response.status_code == 400 and "to" in str(response.json())
    assert api.get("/api/v1/analytics/kpis/nothing/").status_code == 404


def test_another_workspaces_journey_in_a_filter_is_ignored(workspace, publish, other_api):
    from tests.journeys.conftest import graph, node

    mine = publish(graph(trigger=node("trigger.event", {"event": "signup"}, next=None)), name="Mine")
    response = other_api.get("/api/v1/analytics/kpis/call-warmup/", {"warmup": mine.pk})
    assert response.status_code == 200 and response.json()["warmup_journeys"] == []


def test_funnel_api_is_404_to_another_workspace(workspace, publish, api, other_api):
    from tests.journeys.conftest import graph, node

    journey = publish(graph(trigger=node("trigger.event", {"event": "signup"}, next=None)), name="Mine")
    response = api.get(f"/api/v1/journeys/{journey.pk}/funnel/")
    assert response.status_code == 200
    assert [n["node"] for n in response.json()["nodes"]] == ["trigger"]
    assert other_api.get(f"/api/v1/journeys/{journey.pk}/funnel/").status_code == 404


def test_the_endpoints_are_in_the_schema(admin_client):
    schema = admin_client.get("/api/schema/?format=json").json()
    assert "/api/v1/journeys/{journey_id}/funnel/" in schema["paths"]
    assert "/api/v1/analytics/kpis/{kind}/" in schema["paths"]


def test_prices_are_saved_with_field_errors_and_audited(workspace, admin_client, other_workspace):
    response = admin_client.post("/analytics/settings/change/", {"action": "price_save", "kind": "sms", "country": "XX",
                                                                 "price": "-1", "currency": "pounds"})  # fmt: skip
    assert response.status_code == 400
    html = response.content.decode()
    assert "&#x27;XX&#x27; is not a country code" in html and "&#x27;-1&#x27; is not a price" in html
    assert "is not a currency code" in html and not Price.objects.exists()
    response = admin_client.post("/analytics/settings/change/", {"action": "price_save", "kind": "sms", "country": "gb",
                                                                 "price": "0,0425", "currency": "gbp"})  # fmt: skip
    assert response.status_code == 302
    price = Price.objects.get()
    assert (price.workspace, price.country, str(price.price), price.currency) == (
        workspace,
        "GB",
        "0.04250",
        "GBP",
    )
    assert AuditEntry.objects.filter(action="analytics.price.saved").exists()
    theirs = Price.objects.create(workspace=other_workspace, kind="sms", price="1", currency="EUR")
    response = admin_client.post("/analytics/settings/change/", {"action": "price_delete", "pk": theirs.pk})
    assert response.status_code == 400 and Price.objects.filter(pk=theirs.pk).exists()
    assert "0.04250" in admin_client.get("/analytics/settings/").content.decode()


def test_lifecycle_rules_with_field_errors(workspace, admin_client, marketer_client):
    response = admin_client.post("/analytics/settings/change/", {"action": "rule_add", "stage": "loyalty",
                                                                 "source": "attribute", "key": "tier", "within_days": "30"})  # fmt: skip
    assert response.status_code == 400
    assert "Only an event rule has a number of days" in response.content.decode()
    response = admin_client.post("/analytics/settings/change/", {"action": "rule_add", "stage": "loyalty",
                                                                 "source": "attribute", "key": "tier", "value": "gold"})  # fmt: skip
    assert response.status_code == 302
    assert LifecycleRule.objects.get().matches_attributes({"tier": "Gold"})
    assert marketer_client.post("/analytics/settings/change/", {"action": "rule_delete"}).status_code == 403
