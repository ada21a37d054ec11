"""Real dispatcher processes on the test database: the per-channel rate holds across two of
them (the token bucket is shared, not per process)."""

import pytest
from django.utils import timezone

from channels_app.models import Channel, SandboxDelivery
from channels_app.services.messages import message_send_batch
from tests.factories import ContactFactory

from .conftest import start_dispatcher

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_rate_limit_holds_across_two_worker_processes(workspace, tmp_path):
    # given 40 messages queued on a channel limited to 10 per second
    rate, count = 10, 40
    sms = Channel.objects.get(workspace=workspace, kind="sms")
    Channel.objects.filter(pk=sms.pk).update(rate_limit_per_second=rate)
    contacts = ContactFactory.create_batch(count, workspace=workspace)
    messages, _ = message_send_batch(
        workspace=workspace, contacts=contacts, channel="sms", content={"text": "Hi"}, now=timezone.now()
    )
    assert len(messages) == count

    # when two dispatcher processes work the queue
    logs = [tmp_path / "d1.log", tmp_path / "d2.log"]
    workers = [
        start_dispatcher(p, "--exit-when-idle", "2", "--max-seconds", "60", "--batch", "8") for p in logs
    ]
    for worker in workers:
        assert worker.wait(timeout=90) == 0, [p.read_text() for p in logs]

    # then every message went out, both processes took part...
    times = sorted(SandboxDelivery.objects.values_list("received_at", flat=True))
    assert len(times) == count
    assert all("claimed=" in p.read_text() for p in logs), [p.read_text() for p in logs]
    # ...and no one-second window holds more than the bucket (one second of tokens) plus a
    # second's refill, and the whole run took at least (count - burst) / rate seconds
    seconds = [(t - times[0]).total_seconds() for t in times]
    for i, start in enumerate(seconds):
        in_window = sum(1 for s in seconds[i:] if s < start + 1.0)
        assert in_window <= 2 * rate, f"{in_window} messages within a second from t={start:.2f}"
    assert seconds[-1] >= (count - rate) / rate - 0.05
