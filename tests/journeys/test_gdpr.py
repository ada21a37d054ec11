"""GDPR erasure of a contact waiting in a journey: the enrolment is cancelled through the one
service before it goes, so the canvas counters stay true; audience runs forget the contact."""

from django.utils import timezone

from cpaas import gdpr
from journeys.engine import audience_step
from journeys.engine.counters import counters_for
from journeys.models import AudienceRun, Enrollment
from journeys.services import journey_start
from tests.journeys.conftest import linear


def test_erasing_a_waiting_contact_keeps_the_counters_true(workspace, publish, engine, contact, actor):
    journey = publish(linear(("trigger.manual", {}), ("wait.delay", {"seconds": 3600})))
    now = timezone.now()
    journey_start(journey=journey, actor=actor, contact_ids=[contact.pk], now=now)
    while audience_step(now=now):
        pass
    engine(now)
    assert Enrollment.objects.get(contact=contact).status == "waiting"
    before = counters_for(journey.pk)
    assert before["n1"]["waiting"] == 1 and before[""]["active"] == 1

    done = gdpr.contact_erase(contact=contact, actor=actor, reason="Art. 17", confirmation="ERASE", at=now)

    assert done["journeys"]["enrollments"] == 1 and not Enrollment.objects.exists()
    after = counters_for(journey.pk)
    assert after["n1"]["waiting"] == 0 and after[""]["active"] == 0 and after[""]["cancelled"] == 1
    assert AudienceRun.objects.get().contact_ids == []
