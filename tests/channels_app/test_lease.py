"""A claim is not taken over while its provider call may still be in flight: the lease is never
shorter than a call's total deadline, and each hand-over renews it. Two real dispatcher
processes, Twilio (a local server) taking 1.5 s per answer, a lease configured at 1 s."""

import time

import pytest
from django.test import override_settings

from channels_app.models import Message

from .conftest import start_dispatcher
from .test_killed_worker import ENV, queue, received_refs, twilio_sms

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status


@override_settings(CHANNELS_LEASE_S=1, CHANNELS_SEND_DEADLINE_S=10)
def test_a_lease_configured_shorter_than_the_send_deadline_is_lengthened():
    from channels_app.services.dispatch import lease_s

    assert lease_s() == 11


def test_a_call_still_in_flight_is_never_taken_over_by_another_worker(workspace, fake, tmp_path):
    # given three messages on a Twilio that answers each after 1.5 s, two workers, and a lease
    # configured at 1 s (the deadline of 3 s makes it 4 s)
    twilio_sms(workspace, fake)
    messages = queue(workspace, 3)
    fake.on_request = lambda record: time.sleep(1.5)
    env = {**ENV, "CHANNELS_SEND_DEADLINE_S": "3"}
    logs = [tmp_path / f"w{i}.log" for i in range(2)]
    workers = [
        start_dispatcher(log, "--batch", "3", "--exit-when-idle", "6", "--max-seconds", "60", **env)
        for log in logs
    ]
    for worker in workers:
        assert worker.wait(timeout=90) == 0, [log.read_text() for log in logs]
    # then Twilio got each message once, and each is sent: none was marked unknown or failed
    # by the other worker while its call was still being answered
    refs = received_refs(fake)
    assert sorted(refs) == sorted(m.reference for m in messages) and set(refs.values()) == {1}
    final = {
        m.reference: (m.status, m.error_code) for m in Message.objects.filter(pk__in=[m.pk for m in messages])
    }
    assert set(final.values()) == {(S.SENT, "")}, final
