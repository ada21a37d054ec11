"""The analytics API: the dashboard's and messaging health's numbers (the same as the pages), in
the OpenAPI schema; another workspace's token reads only its own (empty) numbers; a bad period is
a 400 naming the field."""

import datetime as dt

import pytest
from django.utils import timezone

from analytics import rollups
from tests.analytics.factories import populate
from tests.conftest import client_for


@pytest.fixture
def data(workspace, channels):
    now = timezone.now()
    day = now.astimezone(rollups.zone_of(workspace)).date() - dt.timedelta(days=2)
    made = populate(workspace, around=rollups.day_bounds(workspace, day)[0], n=60)
    rollups.refresh(now=now)
    return made


def test_dashboard_api_equals_the_page(api, admin_user, data):
    body = api.get("/api/v1/analytics/dashboard/?range=30d").json()
    page = client_for(admin_user).get("/?range=30d").context
    assert body["period"]["days"] == 30
    assert [f["value"] for f in body["marketing"]["figures"]] == [
        f["value"] for f in page["marketing"]["figures"]
    ]
    assert [f["value"] for f in body["compliance"]["figures"]] == [
        f["value"] for f in page["compliance"]["figures"]
    ]
    assert {j["id"]: j["entries"] for j in body["marketing"]["journeys"]} == {
        j["id"]: j["entries"] for j in page["marketing"]["journeys"]
    }
    assert sum(body["marketing"]["figures"][i]["value"] or 0 for i in (0, 2)) > 0


def test_health_api_equals_the_page(api, admin_user, data):
    body = api.get("/api/v1/analytics/health/?range=30d").json()
    page = client_for(admin_user).get("/analytics/health/?range=30d").context
    assert [(d["kind"], d["provider"], d["attempted"], d["delivery_rate"]) for d in body["delivery"]] == [
        (d["kind"], d["provider"], d["attempted"], d["delivery_rate"]) for d in page["delivery"]
    ]
    assert body["delivery"][0]["latency"]["queued_sent"]["p95_s"] is not None
    assert {(e["code"], e["count"]) for e in body["errors"]} == {
        (e["code"], e["count"]) for e in page["errors"]
    }
    known = [e for e in body["errors"] if e["code"] == "30007"]
    assert known and known[0]["explanation"].startswith("Filtered by the carrier")


def test_another_workspace_token_reads_nothing_of_this_one(other_api, data):
    body = other_api.get("/api/v1/analytics/dashboard/?range=30d").json()
    assert body["marketing"]["journeys"] == []
    assert all(not f["value"] for f in body["marketing"]["figures"] + body["compliance"]["figures"])
    health = other_api.get("/api/v1/analytics/health/?range=30d").json()
    assert health["delivery"] == [] and health["errors"] == [] and health["optouts_by_journey"] == []


def test_bad_periods_are_400_naming_the_field(api):
    response = api.get("/api/v1/analytics/health/?from=yesterday")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["from"] == ["'yesterday' is not a date (YYYY-MM-DD)."]
    response = api.get("/api/v1/analytics/dashboard/?from=2026-03-10&to=2026-03-01")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "from": ["The period starts (2026-03-10) after it ends (2026-03-01)."]
    }
    assert api.get("/api/v1/analytics/dashboard/?range=forever").status_code == 400


def test_roles_and_the_schema(workspace, agent, marketer, api):
    assert client_for(agent).get("/api/v1/analytics/health/").status_code == 403
    body = client_for(marketer).get("/api/v1/analytics/dashboard/").json()
    assert "compliance" not in body  # admins and tokens only
    schema = api.get("/api/schema/?format=json").json()
    assert (
        "/api/v1/analytics/dashboard/" in schema["paths"] and "/api/v1/analytics/health/" in schema["paths"]
    )
    ops = {
        schema["paths"][p]["get"]["operationId"]
        for p in ("/api/v1/analytics/dashboard/", "/api/v1/analytics/health/")
    }
    assert ops == {"analytics_dashboard", "analytics_health"}
