import datetime as dt

from django.utils import timezone

from journeys.models import Enrollment, Step
from tests.journeys.conftest import linear, texts_to


def test_event_wait_send_exit(workspace, publish, contact, fire, engine):
    # given a live journey: signup -> wait 60 s -> message -> exit
    journey = publish(
        linear(("trigger.event", {"event": "signup"}), ("wait.delay", {"seconds": 60}),
               ("message.send", {"channel": "sms", "template": {"en": "Welcome {{contact.first_name}}!"}}))
    )  # fmt: skip
    now = timezone.now()
    # when the contact signs up
    fire(contact, "signup", now=now)
    engine(now)
    e = Enrollment.objects.get(journey=journey, contact=contact)
    assert e.status == "waiting" and e.node == "n1"
    assert texts_to(contact) == []
    # then after the wait the message is sent and the journey ends
    engine(now + dt.timedelta(seconds=61))
    e.refresh_from_db()
    assert texts_to(contact) == ["Welcome Ada!"]
    assert e.status == "completed"
    assert [s.node for s in Step.objects.filter(enrollment=e)] == ["trigger", "n1", "n2", "end"]
