"""A journey-level purpose (issue 16 item 7): new message nodes take it, a template gives it, and
a new message in a journey without one asks instead of defaulting to transactional."""

import json

import pytest
from django.urls import reverse

from cpaas.tenancy import Actor
from journeys.services import graph_purpose, journey_create, journey_from_template
from journeys.validation import validate_graph
from tests.conftest import client_for
from tests.journeys.conftest import linear

pytestmark = pytest.mark.django_db


def test_a_journey_from_a_marketing_template_is_for_marketing(workspace, marketer):
    cart = journey_from_template(workspace=workspace, actor=Actor.for_user(marketer), key="abandoned_cart")
    assert cart.purpose == "marketing"
    otp = journey_from_template(workspace=workspace, actor=Actor.for_user(marketer), key="otp_onboarding")
    assert otp.purpose == graph_purpose(otp.versions.first().graph)


def test_mixed_purposes_leave_the_journey_asking():
    g = linear(("trigger.event", {"event": "x"}),
               ("message.send", {"purpose": "marketing", "template": {"en": "a"}}),
               ("message.send", {"purpose": "collections", "template": {"en": "b"}}))  # fmt: skip
    assert graph_purpose(g) == ""


def test_the_editor_boots_new_message_nodes_with_the_journeys_purpose(workspace, marketer):
    journey = journey_create(
        workspace=workspace, actor=Actor.for_user(marketer), name="Promo", purpose="marketing"
    )
    page = client_for(marketer).get(reverse("editor", args=[journey.pk])).content.decode()
    boot = json.loads(page.split('id="editor-boot" type="application/json">')[1].split("</script>")[0])
    assert boot["journey"]["purpose"] == "marketing"
    assert boot["catalogue"]["message.send"]["purpose_from_journey"] is True
    assert boot["catalogue"]["payment.link"]["purpose_from_journey"] is False  # collections stays
    assert '<option value="marketing" selected>' in page  # the bar's "Messages are for"


def test_the_editor_sets_the_journeys_purpose_and_refuses_an_unknown_one(workspace, marketer):
    journey = journey_create(workspace=workspace, actor=Actor.for_user(marketer), name="Promo")
    url = reverse("editor_purpose", args=[journey.pk])
    assert client_for(marketer).post(url, {"purpose": "marketing"}).json() == {"purpose": "marketing"}
    journey.refresh_from_db()
    assert journey.purpose == "marketing"
    response = client_for(marketer).post(url, {"purpose": "gossip"})
    assert response.status_code == 400 and "Unknown purpose 'gossip'" in response.json()["error"]
    journey.refresh_from_db()
    assert journey.purpose == "marketing"


def test_a_message_whose_purpose_is_not_chosen_yet_is_a_problem_in_words(workspace):
    g = linear(("trigger.event", {"event": "x"}), ("message.send", {"purpose": "", "template": {"en": "a"}}))
    problems = [p for p in validate_graph(g, workspace=workspace) if p.get("field") == "config.purpose"]
    assert problems and "Choose what this message is for" in problems[0]["message"]


def test_the_api_reads_and_sets_the_purpose(api, workspace):
    created = api.post("/api/v1/journeys/", {"name": "Api promo", "purpose": "marketing"}, format="json")
    assert created.status_code == 201 and created.json()["purpose"] == "marketing"
    changed = api.patch(f"/api/v1/journeys/{created.json()['id']}/", {"purpose": ""}, format="json")
    assert changed.status_code == 200 and changed.json()["purpose"] == ""
    bad = api.patch(f"/api/v1/journeys/{created.json()['id']}/", {"purpose": "gossip"}, format="json")
    assert bad.status_code == 400 and "purpose" in json.dumps(bad.json())
