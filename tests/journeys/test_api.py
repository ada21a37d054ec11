"""The journeys API: CRUD, draft graph, publish with problems, start, enrolments, cancel, schema."""

import pytest
from django.utils import timezone

from journeys.engine import audience_step, run_pending
from journeys.models import Enrollment
from tests.factories import ContactFactory
from tests.journeys.conftest import linear

pytestmark = pytest.mark.django_db


def test_create_from_a_template_edit_the_draft_publish_start_and_follow(api, workspace):
    r = api.post("/api/v1/journeys/", {"template": "abandoned_cart"}, format="json")
    assert r.status_code == 201, r.json()
    jid = r.json()["id"]
    draft = api.get(f"/api/v1/journeys/{jid}/draft/").json()
    assert draft["problems"] == []
    # a broken draft is saved and its problems listed; publishing refuses with them
    graph = draft["graph"]
    del graph["nodes"]["remind"]["exits"]["next"]
    r = api.put(f"/api/v1/journeys/{jid}/draft/", {"graph": graph}, format="json")
    assert r.status_code == 200 and r.json()["problems"] == [
        {"node": "remind", "field": "exits.next", "message": "Connect the 'next' exit or end it.",
         "text": "'Message: You left something…': connect the 'next' exit or end it."},
        {"node": "wait2", "field": "", "message": "Unreachable: no path from the trigger leads here.",
         "text": "'Wait for purchase': unreachable: no path from the trigger leads here."},
        {"node": "discount", "field": "", "message": "Unreachable: no path from the trigger leads here.",
         "text": "'Message: Still thinking it…': unreachable: no path from the trigger leads here."},
    ]  # fmt: skip
    r = api.post(f"/api/v1/journeys/{jid}/publish/", {}, format="json")
    assert (
        r.status_code == 400
        and r.json()["error"]["code"] == "invalid_graph"
        and len(r.json()["problems"]) == 3
    )
    graph["nodes"]["remind"]["exits"]["next"] = "wait2"
    api.put(f"/api/v1/journeys/{jid}/draft/", {"graph": graph}, format="json")
    r = api.post(f"/api/v1/journeys/{jid}/publish/", {"note": "go"}, format="json")
    assert r.status_code == 201 and r.json()["number"] == 1
    assert api.get(f"/api/v1/journeys/{jid}/").json()["status"] == "live"
    # start two contacts by reference, one created on the way
    c = ContactFactory(workspace=workspace, external_id="cust-1")
    r = api.post(
        f"/api/v1/journeys/{jid}/start/",
        {"contacts": [{"external_id": "cust-1"}, {"phone": "+447911000111"}]},
        format="json",
    )
    assert r.status_code == 400 and "contacts[1].phone" in r.json()["error"]["fields"]
    r = api.post(f"/api/v1/journeys/{jid}/start/", {"contacts": [{"external_id": "cust-1"}, {"phone": "+447911000111"}],
                                                    "create_missing": True}, format="json")  # fmt: skip
    assert r.status_code == 202
    run_id = r.json()["id"]
    while audience_step():
        pass
    run_pending(now=timezone.now())
    assert api.get(f"/api/v1/journeys/{jid}/runs/{run_id}/").json()["enrolled"] == 2
    enrollments = api.get(f"/api/v1/journeys/{jid}/enrollments/?contact={c.pk}").json()["results"]
    assert len(enrollments) == 1 and enrollments[0]["status"] == "waiting"
    detail = api.get(f"/api/v1/enrollments/{enrollments[0]['id']}/").json()
    assert [s["node"] for s in detail["steps"]] == ["cart"]
    counters = api.get(f"/api/v1/journeys/{jid}/counters/").json()
    assert counters["totals"]["enrolled"] == 2 and counters["nodes"]["wait"]["waiting"] == 2
    r = api.post(f"/api/v1/enrollments/{enrollments[0]['id']}/cancel/", {"reason": "asked us"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (
        api.post(f"/api/v1/enrollments/{enrollments[0]['id']}/cancel/", {}, format="json").status_code == 400
    )
    assert (
        api.post(f"/api/v1/journeys/{jid}/status/", {"action": "pause"}, format="json").json()["status"]
        == "paused"
    )


def test_bad_input_is_a_400_never_a_500(api):
    jid = api.post("/api/v1/journeys/", {"name": "X"}, format="json").json()["id"]
    assert api.put(f"/api/v1/journeys/{jid}/draft/", {"graph": "nope"}, format="json").status_code == 400
    assert api.put(f"/api/v1/journeys/{jid}/draft/", {"graph": {"schema": 1}}, format="json").json()[
        "problems"
    ]
    assert api.post("/api/v1/journeys/", {"name": "X"}, format="json").status_code == 400  # the name is taken
    assert api.post("/api/v1/journeys/", {"template": "nope"}, format="json").status_code == 400
    assert api.post(f"/api/v1/journeys/{jid}/start/", {"segment": 1}, format="json").status_code == 400
    assert api.post("/api/v1/journeys/", {"name": "Y", "colour": "red"}, format="json").status_code == 400


def test_the_catalogue_and_every_endpoint_are_in_the_openapi_schema(api):
    catalogue = api.get("/api/v1/journeys/catalogue/").json()
    assert {n["type"] for n in catalogue["nodes"]} >= {
        "message.send",
        "otp.verify",
        "payment.promise",
        "goal",
        "exit",
    }
    assert catalogue["graph_schema"]["properties"]["schema"] == {"const": 1}
    schema = api.get("/api/schema/?format=json").json()
    for path in ("/api/v1/journeys/", "/api/v1/journeys/{journey_id}/draft/", "/api/v1/journeys/{journey_id}/publish/",
                 "/api/v1/journeys/{journey_id}/start/", "/api/v1/enrollments/{enrollment_id}/",
                 "/api/v1/enrollments/{enrollment_id}/cancel/"):  # fmt: skip
        assert path in schema["paths"], path


def test_another_workspaces_journey_is_not_found(api, other_api, workspace, publish):
    journey = publish(linear(("trigger.manual", {}), ("wait.delay", {"seconds": 5})))
    assert other_api.get(f"/api/v1/journeys/{journey.pk}/").status_code == 404
    assert other_api.get("/api/v1/journeys/").json()["count"] == 0
    assert api.get("/api/v1/journeys/").json()["count"] == 1
    assert not Enrollment.objects.exists()
