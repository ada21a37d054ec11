"""Editor test runs of the draft: a journey that was never published runs for a test contact
on a frozen test snapshot, never counted, never in the version history."""

import pytest
from django.urls import reverse
from django.utils import timezone

from journeys.editor.testrun import test_path as path_of
from journeys.editor.testrun import test_run_start as run_start
from journeys.models import Enrollment, JourneyCounter, JourneyVersion
from journeys.services import draft_for, draft_save, journey_create, journey_pause, journey_publish
from tests.conftest import client_for
from tests.journeys.conftest import linear, texts_to

pytestmark = pytest.mark.django_db


def hello_graph(text="Hello {{contact.first_name}}"):
    return linear(
        ("trigger.manual", {}),
        ("message.send", {"channel": "sms", "template": {"en": text}}),
        ("wait.delay", {"seconds": 3600}),
    )


@pytest.fixture
def draft_journey(workspace, actor):
    return journey_create(workspace=workspace, actor=actor, name="Draft only", graph=hello_graph())


def counters(journey):
    return sorted(JourneyCounter.objects.filter(journey=journey).values_list("node", "key", "value"))


def test_a_never_published_draft_runs_for_the_test_contact_on_a_frozen_snapshot(
    draft_journey, contact, actor, engine
):
    # given a journey that was never published
    assert draft_journey.status == "draft" and draft_journey.live_version is None
    before = counters(draft_journey)
    # when its draft is test-run
    enrollment = run_start(journey=draft_journey, contact=contact, actor=actor, now=timezone.now())
    # then the contact is in a test snapshot of the draft: frozen, no number, not the draft
    snapshot = enrollment.version
    assert enrollment.is_test and snapshot.is_test and snapshot.number is None
    assert snapshot.published_at is not None and snapshot.pk != draft_for(draft_journey).pk
    assert snapshot.graph == hello_graph()
    # and the journey's counters did not move
    assert counters(draft_journey) == before
    draft_journey.refresh_from_db()
    assert draft_journey.status == "draft" and draft_journey.live_version is None

    # when the draft is edited afterwards, the snapshot the test walks does not change
    draft_save(journey=draft_journey, actor=actor, graph=hello_graph("Changed"))
    snapshot.refresh_from_db()
    assert snapshot.graph == hello_graph()
    # and the engine runs the test contact on the snapshot: the message it sends is the old text
    engine()
    assert texts_to(contact) == ["Hello Ada"]
    path = path_of(journey=draft_journey, contact=contact)
    assert path["visited"] == ["trigger", "n1", "n2"] and path["status"] == "waiting"
    # and the steps it took are not counted either
    assert counters(draft_journey) == before


def test_the_same_draft_reuses_its_snapshot_and_a_new_start_cancels_the_open_test(
    draft_journey, contact, actor
):
    first = run_start(journey=draft_journey, contact=contact, actor=actor, now=timezone.now())
    second = run_start(journey=draft_journey, contact=contact, actor=actor, now=timezone.now())
    assert second.version_id == first.version_id
    first.refresh_from_db()
    assert first.status == "cancelled" and second.status == "active"
    draft_save(journey=draft_journey, actor=actor, graph=hello_graph("Other"))
    third = run_start(journey=draft_journey, contact=contact, actor=actor, now=timezone.now())
    assert third.version_id != first.version_id
    assert JourneyVersion.objects.filter(journey=draft_journey, is_test=True).count() == 2
    assert counters(draft_journey) == []


def test_a_draft_with_problems_is_refused_with_them(workspace, actor, contact, marketer):
    graph = hello_graph()
    del graph["nodes"]["n1"]["exits"]["next"]
    journey = journey_create(workspace=workspace, actor=actor, name="Broken", graph=graph)
    response = client_for(marketer).post(
        reverse("editor_test_start", args=[journey.pk]), {"contact": contact.pk, "action": "start"}
    )
    assert response.status_code == 400
    assert any(p["node"] == "n1" for p in response.json()["problems"])
    assert not Enrollment.objects.filter(journey=journey).exists()
    assert not JourneyVersion.objects.filter(journey=journey, is_test=True).exists()


def test_a_paused_live_journey_tests_its_draft_and_test_snapshots_stay_out_of_the_history(
    workspace, actor, contact, marketer, engine
):
    journey = journey_create(workspace=workspace, actor=actor, name="Live", graph=hello_graph())
    journey_publish(journey=journey, actor=actor, note="v1")
    journey_pause(journey=journey, actor=actor)
    draft_save(journey=journey, actor=actor, graph=hello_graph("Draft text"))
    before = counters(journey)
    client = client_for(marketer)
    started = client.post(reverse("editor_test_start", args=[journey.pk]), {"contact": contact.pk})
    assert started.status_code == 200, started.content
    e = Enrollment.objects.get(pk=started.json()["enrollment"])
    assert e.is_test and e.version.graph == hello_graph("Draft text")
    # the engine runs it although the journey is paused, and counts nothing
    engine()
    assert texts_to(contact) == ["Draft text"]
    assert counters(journey) == before
    # the versions list, the journey page and the API list only the published version
    versions = client.get(reverse("editor_versions", args=[journey.pk])).context["versions"]
    assert [v.number for v in versions] == [1]
    detail = client.get(reverse("journey_detail", args=[journey.pk]))
    assert [v.number for v in detail.context["versions"]] == [1]
    # and the enrolment lists mark it as a test
    assert 'badge warn">test</span>' in detail.content.decode()


def test_cancelling_a_test_enrolment_leaves_the_counters_alone(draft_journey, contact, actor):
    from journeys.services import enrollment_cancel

    e = run_start(journey=draft_journey, contact=contact, actor=actor, now=timezone.now())
    enrollment_cancel(enrollment=e, actor=actor)
    assert counters(draft_journey) == []


def test_versions_api_leaves_test_snapshots_out(api, workspace, actor, contact):
    journey = journey_create(workspace=workspace, actor=actor, name="Api", graph=hello_graph())
    journey_publish(journey=journey, actor=actor)
    run_start(journey=journey, contact=contact, actor=actor, now=timezone.now())
    rows = api.get(f"/api/v1/journeys/{journey.pk}/versions/").json()
    assert [r["number"] for r in rows] == [1]
    enrolments = api.get(f"/api/v1/journeys/{journey.pk}/enrollments/").json()
    items = enrolments.get("results", enrolments) if isinstance(enrolments, dict) else enrolments
    assert [(i["version"], i["is_test"]) for i in items] == [(None, True)]
