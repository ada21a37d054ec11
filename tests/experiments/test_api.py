"""The experiments API: list and read with exact exposures, settings with field errors, results,
a winner and a stop with their decisions, and the per-contact CSV (assignments and conversions,
safe to open in a spreadsheet, streamed); every endpoint in the OpenAPI schema."""

import csv
import datetime as dt
import io

import pytest

from contacts.services import event_record
from experiments.models import Experiment
from journeys.models import Enrollment
from tests.experiments.test_assignment import NOON, ab_graph, enter, exit_at_split, people
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def running(workspace, publish, fire, engine):
    journey = publish(ab_graph())
    contacts = people(workspace, 12)
    enter(fire, contacts, NOON)
    engine(NOON)
    return Experiment.objects.get(journey_id=journey.pk), contacts


def test_list_and_read_show_the_arms_with_their_exposures(api, running):
    experiment, _ = running
    listed = api.get("/api/v1/experiments/").json()
    assert [e["id"] for e in listed["results"]] == [experiment.pk]
    body = api.get(f"/api/v1/experiments/{experiment.pk}/").json()
    assert body["status"] == "running" and body["name"] == "Wording"
    exposures = {v["exit"]: v["exposures"] for v in body["variants"]}
    assert sum(exposures.values()) == 12
    assert [(v["name"], v["control"]) for v in body["variants"]] == [("Friendly", True), ("Firm", False)]
    assert api.get("/api/v1/experiments/?status=bogus").status_code == 400


def test_settings_are_changed_with_field_errors(api, running):
    experiment, _ = running
    url = f"/api/v1/experiments/{experiment.pk}/"
    ok = api.patch(
        url, {"goal_event": "payment_completed", "mde": 0.05, "decision_rule": "auto"}, format="json"
    )
    assert ok.status_code == 200 and (ok.json()["goal_event"], ok.json()["mde"]) == (
        "payment_completed",
        0.05,
    )
    bad = api.patch(url, {"power": 3, "hypothesis": "x"}, format="json")
    assert bad.status_code == 400 and "power" in bad.json()["error"]["fields"]
    assert Experiment.objects.get(pk=experiment.pk).hypothesis == ""
    assert api.patch(url, {"variants": []}, format="json").status_code == 400


def test_a_winner_through_the_api_routes_new_contacts(api, running, workspace, fire, engine):
    experiment, _ = running
    refused = api.post(f"/api/v1/experiments/{experiment.pk}/winner/", {"winner": "c"}, format="json")
    assert refused.status_code == 400 and "winner" in refused.json()["error"]["fields"]
    made = api.post(
        f"/api/v1/experiments/{experiment.pk}/winner/", {"winner": "b", "reason": "clear"}, format="json"
    )
    assert made.status_code == 200 and (made.json()["kind"], made.json()["winner"]) == ("winner", "b")
    later = people(workspace, 5)
    enter(fire, later, NOON + dt.timedelta(hours=2))
    engine(NOON + dt.timedelta(hours=2))
    assert {exit_at_split(Enrollment.objects.get(contact=c)) for c in later} == {"b"}
    decisions = api.get(f"/api/v1/experiments/{experiment.pk}/decisions/").json()
    assert [(d["kind"], d["reason"]) for d in decisions] == [("winner", "clear")]
    again = api.post(f"/api/v1/experiments/{experiment.pk}/stop/", {}, format="json")
    assert again.status_code == 400


def test_results_are_read_from_the_cache(api, running):
    experiment, _ = running
    Experiment.objects.filter(pk=experiment.pk).update(
        results={"arms": [{"exit": "a"}]}, results_computed_at=NOON
    )
    body = api.get(f"/api/v1/experiments/{experiment.pk}/results/").json()
    assert body == {
        "experiment": experiment.pk,
        "computed_at": "2026-05-05T11:00:00Z",
        "results": {"arms": [{"exit": "a"}]},
    }


def test_the_csv_lists_each_contact_with_their_arm_and_conversion_safely(api, running, workspace):
    experiment, contacts = running
    Experiment.objects.filter(pk=experiment.pk).update(goal_event="payment_completed", goal_window_s=86400)
    payer, late = contacts[0], contacts[1]
    payer.external_id = "=HYPERLINK(1)"
    payer.save(update_fields=["external_id"])
    event_record(workspace=workspace, contact=payer, name="payment_completed", properties={},
                 now=NOON + dt.timedelta(hours=3))  # fmt: skip
    event_record(workspace=workspace, contact=late, name="payment_completed", properties={},
                 now=NOON + dt.timedelta(days=2))  # fmt: skip
    event_record(workspace=workspace, contact=ContactFactory(workspace=workspace), name="payment_completed",
                 properties={}, now=NOON)  # fmt: skip
    response = api.get(f"/api/v1/experiments/{experiment.pk}/assignments.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 12
    by_contact = {int(r["contact_id"]): r for r in rows}
    assert by_contact[payer.pk]["external_id"] == "'=HYPERLINK(1)"
    assert by_contact[payer.pk]["converted_at"].startswith("2026-05-05T14:00:00")
    assert by_contact[payer.pk]["seconds_to_convert"] == "10800"
    assert by_contact[late.pk]["converted_at"] == ""  # after the window
    assert {r["variant"] for r in rows} == {"a", "b"}


def test_every_endpoint_is_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = set(schema["paths"])
    for path in ("/api/v1/experiments/", "/api/v1/experiments/{experiment_id}/",
                 "/api/v1/experiments/{experiment_id}/results/", "/api/v1/experiments/{experiment_id}/winner/",
                 "/api/v1/experiments/{experiment_id}/stop/", "/api/v1/experiments/{experiment_id}/decisions/",
                 "/api/v1/experiments/{experiment_id}/assignments.csv"):  # fmt: skip
        assert path in paths, path
