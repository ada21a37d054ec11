"""Issue 11 item 1: a service that locks and re-reads a row must leave its caller holding what it
changed, and nothing may act on a copy of the row read before someone else changed it (publish
twice must never hand back a draft copied from the version before)."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from journeys.editor.services import graph_etag
from journeys.models import Journey, JourneyVersion
from journeys.services import (
    draft_for,
    draft_save,
    journey_archive,
    journey_create,
    journey_pause,
    journey_publish,
    journey_update,
)
from tests.conftest import client_for
from tests.journeys.conftest import linear

pytestmark = pytest.mark.django_db


def text_graph(text: str) -> dict:
    return linear(("trigger.event", {"event": "signup"}), ("message.send", {"template": {"en": text}}))


def text_of(graph: dict) -> str:
    return graph["nodes"]["n1"]["config"]["template"]["en"]


def the_draft(journey) -> JourneyVersion:
    return JourneyVersion.objects.get(journey_id=journey.pk, published_at=None)


@pytest.fixture
def journey(workspace, actor):
    return journey_create(workspace=workspace, actor=actor, name="Welcome", graph=text_graph("v1"))


def test_publish_edit_publish_with_one_object_keeps_the_second_version_in_the_new_draft(journey, actor):
    # given v1 published and the draft changed, all through the caller's one journey object
    journey_publish(journey=journey, actor=actor)
    draft_save(journey=journey, actor=actor, graph=text_graph("v2"))
    # when v2 is published through the same object
    v2 = journey_publish(journey=journey, actor=actor)
    # then the object the caller holds knows v2 is live, and the next draft starts from v2
    assert journey.live_version_id == v2.pk and journey.status == "live"
    assert text_of(draft_for(journey).graph) == "v2"
    # and publishing again without an edit does not undo the change
    v3 = journey_publish(journey=journey, actor=actor)
    assert text_of(v3.graph) == "v2"
    assert text_of(Journey.objects.get(pk=journey.pk).live_version.graph) == "v2"


def test_a_journey_read_before_someone_else_published_still_drafts_from_the_live_version(journey, actor):
    journey_publish(journey=journey, actor=actor)
    stale = Journey.objects.get(pk=journey.pk)  # e.g. a page loaded a moment ago
    draft_save(journey=journey, actor=actor, graph=text_graph("v2"))
    journey_publish(journey=Journey.objects.get(pk=journey.pk), actor=actor)
    assert text_of(draft_for(stale).graph) == "v2"


def test_renaming_through_a_stale_object_does_not_undo_a_publish(journey, actor):
    stale = Journey.objects.get(pk=journey.pk)  # read before the publish
    v1 = journey_publish(journey=Journey.objects.get(pk=journey.pk), actor=actor)
    returned = journey_update(journey=stale, actor=actor, data={"name": "Welcome 2"})
    fresh = Journey.objects.get(pk=journey.pk)
    assert (fresh.name, fresh.status, fresh.live_version_id) == ("Welcome 2", "live", v1.pk)
    assert (returned.status, returned.live_version_id) == ("live", v1.pk)


def test_a_stale_object_cannot_save_into_an_archived_journey(journey, actor):
    stale = Journey.objects.get(pk=journey.pk)
    journey_archive(journey=Journey.objects.get(pk=journey.pk), actor=actor)
    with pytest.raises(ValidationError, match="archived"):
        draft_save(journey=stale, actor=actor, graph=text_graph("late"))
    assert text_of(the_draft(journey).graph) == "v1"


def test_status_changes_update_the_callers_object(journey, actor):
    journey_publish(journey=journey, actor=actor)
    journey_pause(journey=journey, actor=actor)
    assert journey.status == "paused"
    journey_archive(journey=journey, actor=actor)
    assert journey.status == "archived" and journey.next_run_at is None


# --- through the canvas editor ---------------------------------------------------------------


def editor_save(client, journey, graph, etag):
    return client.post(
        reverse("editor_save", args=[journey.pk]),
        data=json.dumps({"graph": graph, "etag": etag}),
        content_type="application/json",
    )


def test_editor_publish_twice_keeps_the_edit(journey, marketer):
    client = client_for(marketer)
    first = client.post(reverse("editor_publish", args=[journey.pk]), {"note": "one"})
    assert first.status_code == 200 and first.json()["version"] == 1
    saved = editor_save(client, journey, text_graph("v2"), first.json()["etag"])
    assert saved.status_code == 200
    second = client.post(reverse("editor_publish", args=[journey.pk]), {"note": "two"})
    assert second.status_code == 200 and second.json()["version"] == 2
    # the etag the editor continues from is the new draft's, and that draft is v2
    assert text_of(the_draft(journey).graph) == "v2"
    assert second.json()["etag"] == graph_etag(text_graph("v2"))
    page = client.get(reverse("editor", args=[journey.pk]))
    assert text_of(page.context["boot"]["graph"]) == "v2"
    # a third publish (nothing edited) keeps v2's text live
    third = client.post(reverse("editor_publish", args=[journey.pk]), {"note": "three"})
    assert third.status_code == 200
    assert text_of(Journey.objects.get(pk=journey.pk).live_version.graph) == "v2"


def test_journey_page_publish_twice_keeps_the_edit(journey, marketer, actor):
    client = client_for(marketer)
    client.post(reverse("journey_action", args=[journey.pk]), {"action": "publish"})
    draft_save(journey=journey, actor=actor, graph=text_graph("v2"))
    client.post(reverse("journey_action", args=[journey.pk]), {"action": "publish"})
    client.post(reverse("journey_action", args=[journey.pk]), {"action": "publish"})
    assert text_of(Journey.objects.get(pk=journey.pk).live_version.graph) == "v2"


# --- through the API ---------------------------------------------------------------------------


def test_api_publish_twice_keeps_the_edit(api, workspace):
    jid = api.post("/api/v1/journeys/", {"name": "J", "graph": text_graph("v1")}, format="json").json()["id"]
    assert api.post(f"/api/v1/journeys/{jid}/publish/", {}, format="json").status_code == 201
    r = api.put(f"/api/v1/journeys/{jid}/draft/", {"graph": text_graph("v2")}, format="json")
    assert r.status_code == 200
    assert api.post(f"/api/v1/journeys/{jid}/publish/", {}, format="json").json()["number"] == 2
    assert text_of(api.get(f"/api/v1/journeys/{jid}/draft/").json()["graph"]) == "v2"
    assert api.post(f"/api/v1/journeys/{jid}/publish/", {}, format="json").json()["number"] == 3
    assert text_of(Journey.objects.get(pk=jid).live_version.graph) == "v2"


def test_api_archive_answers_the_archived_journey_as_stored(api, workspace):
    from tests.factories import SegmentFactory

    segment = SegmentFactory(workspace=workspace)
    graph = linear(
        ("trigger.segment", {"segment": segment.pk, "schedule": {"daily_at": "09:30"}}),
        ("message.send", {"template": {"en": "Hi"}}),
    )
    jid = api.post("/api/v1/journeys/", {"name": "Daily", "graph": graph}, format="json").json()["id"]
    assert api.post(f"/api/v1/journeys/{jid}/publish/", {}, format="json").status_code == 201
    assert api.get(f"/api/v1/journeys/{jid}/").json()["next_run_at"] is not None
    r = api.post(f"/api/v1/journeys/{jid}/status/", {"action": "archive"}, format="json")
    assert r.status_code == 200
    assert r.json() == api.get(f"/api/v1/journeys/{jid}/").json()
    assert r.json()["next_run_at"] is None
