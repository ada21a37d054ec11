"""Graph validation, drafts and published versions (immutable), version pinning, lifecycle."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from cpaas.models import AuditEntry
from journeys.models import Enrollment, Journey, JourneyVersion, PublishedVersionChanged
from journeys.services import (
    JourneyInvalid,
    draft_for,
    draft_save,
    journey_archive,
    journey_create,
    journey_duplicate,
    journey_pause,
    journey_publish,
    journey_resume,
)
from journeys.validation import validate_graph
from tests.journeys.conftest import graph, linear, node, texts_to

SIGNUP = ("trigger.event", {"event": "signup"})


def problems_of(g, workspace):
    return {(p["node"], p["field"]) for p in validate_graph(g, workspace=workspace)}


@pytest.mark.django_db
def test_a_valid_graph_has_no_problems(workspace):
    g = linear(SIGNUP, ("wait.delay", {"seconds": 5}), ("message.send", {"template": {"en": "Hi"}}))
    assert validate_graph(g, workspace=workspace) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda g: g.update(schema=2), (None, "schema")),
        (lambda g: g.pop("start"), (None, "start")),
        (lambda g: g.update(start="nowhere"), (None, "start")),
        (lambda g: g["nodes"]["n1"].update(type="wait.forever"), ("n1", "type")),
        (lambda g: g["nodes"]["n1"]["config"].pop("seconds"), ("n1", "config.seconds")),
        (lambda g: g["nodes"]["n1"]["config"].update(seconds=-1), ("n1", "config.seconds")),
        (lambda g: g["nodes"]["n1"]["config"].update(colour="red"), ("n1", "config")),
        (lambda g: g["nodes"]["n2"]["exits"].pop("failed"), ("n2", "exits.failed")),
        (lambda g: g["nodes"]["n2"]["exits"].update(failed="ghost"), ("n2", "exits.failed")),
        (lambda g: g["nodes"]["n2"]["exits"].update(maybe=None), ("n2", "exits.maybe")),
        (lambda g: g["nodes"].update(lost=node("exit")), ("lost", "")),
        (lambda g: g["nodes"]["n2"]["config"].update(channel="viber2"), ("n2", "config.channel")),
        (
            lambda g: g["nodes"]["n2"]["config"]["template"].update(en="Hi {{contact.shoe_size}}"),
            ("n2", "config.template"),
        ),
        (
            lambda g: g["nodes"]["trigger"]["config"].update(event="never_seen_event"),
            ("trigger", "config.event"),
        ),
        (lambda g: g["nodes"]["trigger"].update(type="exit"), ("trigger", "type")),
        (lambda g: g["nodes"]["n2"]["exits"].update(next="trigger"), ("n2", "exits.next")),
    ],
)
def test_invalid_graphs_list_their_problems(workspace, mutate, expected):
    g = linear(SIGNUP, ("wait.delay", {"seconds": 5}), ("message.send", {"template": {"en": "Hi"}}))
    mutate(g)
    assert expected in problems_of(g, workspace)


@pytest.mark.django_db
def test_loop_without_wait_is_refused_but_a_loop_through_a_wait_is_fine(workspace):
    split = {"rules": [{"exit": "again", "conditions": [{"source": "tag", "op": "has", "value": "x"}]}]}
    g = graph(
        trigger=node("trigger.event", {"event": "signup"}, next="a"),
        a=node("split.condition", split, again="b", **{"else": None}),
        b=node("message.send", {"template": {"en": "hi"}}, next="a", failed=None),
    )
    assert any("Loop without a wait" in p["message"] for p in validate_graph(g, workspace=workspace))
    g["nodes"]["b"] = node("wait.delay", {"seconds": 60}, next="a")
    assert validate_graph(g, workspace=workspace) == []


@pytest.mark.django_db
def test_not_a_graph_at_all():
    assert validate_graph("nope")[0]["message"] == "The graph must be a JSON object."
    assert validate_graph({"schema": 1, "start": "a", "nodes": []})[0]["field"] == "nodes"


@pytest.mark.django_db
def test_publish_refuses_with_the_problem_list_and_publishes_when_fixed(workspace, actor):
    g = linear(SIGNUP, ("wait.delay", {"seconds": 5}))
    del g["nodes"]["n1"]["exits"]["next"]
    journey = journey_create(workspace=workspace, actor=actor, name="Onboarding", graph=g)
    with pytest.raises(JourneyInvalid) as exc:
        journey_publish(journey=journey, actor=actor)
    assert exc.value.problems == [
        {"node": "n1", "field": "exits.next", "message": "Connect the 'next' exit or end it.",
         "text": "'Wait 5 s': connect the 'next' exit or end it."},
        {"node": "end", "field": "", "message": "Unreachable: no path from the trigger leads here.",
         "text": "'Exit': unreachable: no path from the trigger leads here."},
    ]  # fmt: skip
    journey.refresh_from_db()
    assert journey.status == "draft" and journey.live_version is None
    # fix the draft and publish
    g["nodes"]["n1"]["exits"]["next"] = "end"
    draft_save(journey=journey, actor=actor, graph=g)
    version = journey_publish(journey=journey, actor=actor, note="first")
    journey.refresh_from_db()
    assert (version.number, journey.status, journey.live_version_id) == (1, "live", version.pk)
    assert (journey.trigger_kind, journey.trigger_key) == ("event", "signup")
    assert AuditEntry.objects.filter(action="journeys.journey.published", target_id=str(journey.pk)).exists()


@pytest.mark.django_db(transaction=True)
def test_published_versions_never_change(workspace, actor):
    g = linear(SIGNUP, ("wait.delay", {"seconds": 5}))
    journey = journey_create(workspace=workspace, actor=actor, name="Frozen", graph=g)
    version = journey_publish(journey=journey, actor=actor)
    version.refresh_from_db()
    # the model refuses
    version.graph = {**version.graph, "start": "n1"}
    with pytest.raises(PublishedVersionChanged):
        version.save()
    # the queryset refuses
    with pytest.raises(PublishedVersionChanged):
        JourneyVersion.objects.filter(pk=version.pk).update(graph={})
    with pytest.raises(PublishedVersionChanged):
        version.delete()
    # and so does the database, for SQL that goes around both
    with pytest.raises(IntegrityError if connection.vendor == "sqlite" else Exception):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE journeys_journeyversion SET graph = %s WHERE id = %s", ['{"x": 1}', version.pk]
            )
    assert JourneyVersion.objects.get(pk=version.pk).graph == g
    # editing goes to a new draft, a copy of the live graph
    draft, _ = draft_save(journey=journey, actor=actor, graph={**g, "meta": {"note": "v2"}})
    assert draft.pk != version.pk and draft.number is None
    assert JourneyVersion.objects.get(pk=version.pk).graph == g


@pytest.mark.django_db
def test_contacts_finish_on_the_version_they_entered(workspace, actor, contact, fire, engine):
    v1 = linear(
        SIGNUP,
        ("wait.delay", {"seconds": 60}),
        ("message.send", {"channel": "sms", "template": {"en": "from v1"}}),
    )
    journey = journey_create(workspace=workspace, actor=actor, name="Pinned", graph=v1)
    journey_publish(journey=journey, actor=actor)
    now = timezone.now()
    fire(contact, "signup", now=now)
    engine(now)
    # a new version changes the text while the contact waits
    v2 = linear(
        SIGNUP,
        ("wait.delay", {"seconds": 60}),
        ("message.send", {"channel": "sms", "template": {"en": "from v2"}}),
    )
    draft_save(journey=journey, actor=actor, graph=v2)
    journey_publish(journey=journey, actor=actor)
    from tests.factories import ContactFactory

    newcomer = ContactFactory(workspace=workspace)
    fire(newcomer, "signup", now=now)
    engine(now)
    engine(now + dt.timedelta(seconds=61))
    assert texts_to(contact) == ["from v1"]
    assert texts_to(newcomer) == ["from v2"]
    assert Enrollment.objects.get(contact=contact).version.number == 1


@pytest.mark.django_db
def test_pause_holds_contacts_and_resume_releases_them(workspace, actor, publish, contact, fire, engine):
    journey = publish(
        linear(
            SIGNUP,
            ("wait.delay", {"seconds": 10}),
            ("message.send", {"channel": "sms", "template": {"en": "hi"}}),
        )
    )
    now = timezone.now()
    fire(contact, "signup", now=now)
    engine(now)
    journey_pause(journey=journey, actor=actor)
    engine(now + dt.timedelta(seconds=20))
    assert texts_to(contact) == []
    # nobody enters a paused journey
    from tests.factories import ContactFactory

    other = ContactFactory(workspace=workspace)
    fire(other, "signup", now=now)
    assert not Enrollment.objects.filter(contact=other).exists()
    journey_resume(journey=journey, actor=actor)
    engine(now + dt.timedelta(seconds=21))
    assert texts_to(contact) == ["hi"]
    with pytest.raises(ValidationError):
        journey_resume(journey=journey, actor=actor)


@pytest.mark.django_db
def test_archive_cancels_open_enrolments_and_duplicate_copies_the_graph(
    workspace, actor, publish, contact, fire, engine
):
    journey = publish(linear(SIGNUP, ("wait.delay", {"seconds": 10})))
    fire(contact, "signup")
    engine()
    journey = journey_archive(journey=journey, actor=actor)
    assert Enrollment.objects.get(contact=contact).status == "cancelled"
    copy = journey_duplicate(journey=journey, actor=actor)
    assert copy.name == "J (copy)" and copy.status == Journey.Status.DRAFT
    assert draft_for(copy).graph == journey.live_version.graph
    with pytest.raises(ValidationError):
        draft_save(journey=journey, actor=actor, graph=journey.live_version.graph)
