"""A journey's messages: personalised texts go out in one batch call per node and round, each
message carries its journey's id (indexed), and "messages by status" reads that column."""

import importlib

from django.apps import apps
from django.core.cache import cache
from django.utils import timezone

from channels_app.models import Message
from journeys import selectors
from journeys.models import Enrollment
from tests.factories import ContactFactory
from tests.journeys.conftest import linear


def test_personalised_texts_and_messages_by_status(workspace, publish, engine, monkeypatch):
    import channels_app.services.messages as messages

    calls = []
    real = messages.message_send_batch
    monkeypatch.setattr(messages, "message_send_batch", lambda **kw: calls.append(1) or real(**kw))
    journey = publish(
        linear(("trigger.manual", {}),
               ("message.send", {"channel": "sms", "template": {"en": "Hi {{contact.first_name}}"}}))
    )  # fmt: skip
    people = [
        ContactFactory(workspace=workspace, first_name=n, phone=f"+4479111234{i:02d}")
        for i, n in enumerate(["Ada", "Bo", "Cy"])
    ]
    now = timezone.now()
    for p in people:
        Enrollment.objects.create(workspace=workspace, journey=journey, version=journey.live_version, contact=p,
                                  status="active", node="trigger", due_at=now, entered_at=now)  # fmt: skip
    engine(now)
    # each contact got their own text, from one batch call
    sent = Message.objects.filter(journey_id=journey.pk)
    assert sorted(sent.values_list("text", flat=True)) == ["Hi Ada", "Hi Bo", "Hi Cy"]
    assert len(calls) == 1
    # an editor test run's message is not the journey's
    Enrollment.objects.create(workspace=workspace, journey=journey, version=journey.live_version, contact=people[0],
                              status="active", node="trigger", due_at=now, entered_at=now, is_test=True)  # fmt: skip
    engine(now)
    assert Message.objects.filter(contact=people[0], journey_id=None, origin="journey").count() == 1
    cache.clear()
    stats = selectors.journey_message_stats(workspace=workspace, journey=journey)
    assert sum(stats.values()) == 3 and set(stats) <= {"queued", "sent", "delivered"}


def test_older_journey_messages_get_their_journey_from_origin_ref(workspace, contact):
    from channels_app.services.messages import message_send

    old = message_send(workspace=workspace, contact=contact, channel="sms", content={"text": "x"},
                       origin="journey", origin_ref="journey:42/welcome")  # fmt: skip
    api = message_send(workspace=workspace, contact=contact, channel="sms", content={"text": "y"},
                       origin="api", origin_ref="journey:43/nope")  # fmt: skip
    assert old.journey_id is None
    migration = importlib.import_module("channels_app.migrations.0005_message_journey_id_backfill")
    migration.backfill(apps, None)
    assert Message.objects.get(pk=old.pk).journey_id == 42
    assert Message.objects.get(pk=api.pk).journey_id is None
    migration.empty(apps, None)
    assert Message.objects.get(pk=old.pk).journey_id is None
