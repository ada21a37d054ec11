"""Editor test runs (`Enrollment.is_test`) in the engine: they run like any enrolment, even while
the journey is paused, and add nothing to the journey's counters or exposures."""

import datetime as dt

from django.utils import timezone

from experiments.models import ExperimentAssignment
from journeys.engine.counters import counters_for
from journeys.models import Enrollment
from tests.journeys.conftest import graph, linear, node, texts_to


def _test_enrolment(journey, contact, now, node_id="trigger"):
    return Enrollment.objects.create(
        workspace=journey.workspace, journey=journey, version=journey.live_version, contact=contact,
        status="active", node=node_id, due_at=now, entered_at=now, is_test=True,
    )  # fmt: skip


def test_a_test_run_goes_on_in_a_paused_journey_and_counts_nothing(
    workspace, publish, contact, actor, engine
):
    from journeys.services import journey_pause

    # given a live journey with one real enrolment waiting, then paused
    journey = publish(
        linear(("trigger.manual", {}), ("wait.delay", {"seconds": 60}),
               ("message.send", {"channel": "sms", "template": {"en": "Hi {{contact.first_name}}"}}))
    )  # fmt: skip
    now = timezone.now()
    real = Enrollment.objects.create(
        workspace=workspace, journey=journey, version=journey.live_version, contact=contact,
        status="active", node="trigger", due_at=now, entered_at=now,
    )  # fmt: skip
    engine(now)
    real.refresh_from_db()
    assert real.status == "waiting"
    before = counters_for(journey.pk)
    journey_pause(journey=journey, actor=actor)
    # when an editor test run starts and its wait passes
    test = _test_enrolment(journey, contact, now)
    engine(now)
    engine(now + dt.timedelta(seconds=61))
    # then the test run went through to the end and the contact got the message ...
    test.refresh_from_db()
    assert test.status == "completed"
    assert texts_to(contact) == ["Hi Ada"]
    # ... while the paused journey's real enrolment stays where it was
    real.refresh_from_db()
    assert real.status == "waiting" and real.node == "n1"
    # and not one counter moved
    assert counters_for(journey.pk) == before


def test_a_test_run_records_no_ab_exposure(workspace, publish, contact, engine):
    journey = publish(
        graph(
            trigger=node("trigger.manual", {}, next="ab"),
            ab=node("split.ab", {"variants": [{"exit": "a", "weight": 50}, {"exit": "b", "weight": 50}]},
                    a="end", b="end"),
            end=node("exit"),
        )
    )  # fmt: skip
    now = timezone.now()
    test = _test_enrolment(journey, contact, now)
    engine(now)
    test.refresh_from_db()
    assert test.status == "completed"
    assert not ExperimentAssignment.objects.filter(experiment__journey_id=journey.pk).exists()
    assert counters_for(journey.pk) == {}


def test_a_test_run_does_not_keep_the_contact_out_of_the_journey(workspace, publish, contact, fire, engine):
    # given a journey without re-entry, and an editor test run of the contact that went through
    journey = publish(
        linear(("trigger.event", {"event": "signup"}), ("wait.delay", {"seconds": 60})), allow_reentry=False
    )
    now = timezone.now()
    _test_enrolment(journey, contact, now)
    engine(now)
    # when the contact really signs up, they enter
    fire(contact, "signup", now=now)
    assert Enrollment.objects.filter(journey=journey, contact=contact, is_test=False).count() == 1
