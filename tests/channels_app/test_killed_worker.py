"""A worker killed at any point never makes a provider send the same message twice.

Real `manage.py dispatcher` processes on the test database are killed with SIGKILL:
- at the most dangerous moment, while Twilio (played by a local server) is answering the call;
- at random moments, several times in a row, against Twilio (no idempotency: the
  sending-state guard alone) and against the sandbox (idempotent on our reference).
A fresh worker then finishes the queue. The provider's own log is the judge."""

import os
import random
import signal
import time
import urllib.parse
from collections import Counter

import pytest
from django.utils import timezone

from channels_app.models import Channel, Message, MessageStatusEvent, SandboxDelivery
from channels_app.services.channels import channel_create
from channels_app.services.messages import message_send_batch
from channels_app.services.status import OUTCOME_UNKNOWN
from cpaas.tenancy import Actor
from tests.factories import ContactFactory

from .conftest import start_dispatcher
from .providers.twilio.fake import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from .providers.twilio.test_twilio import signed_post

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
# (the lease is never shorter than a provider call's total deadline plus 1 s: a short deadline
# keeps the recovery quick)
ENV = {
    "CHANNELS_LEASE_S": "1",
    "CHANNELS_SEND_DEADLINE_S": "0.5",
    "CHANNELS_PUBLIC_URL": "http://testserver",
    "CHANNELS_RETRY_BASE_S": "0.2",
}


@pytest.fixture
def fake():
    server = FakeTwilio().start()
    yield server
    server.stop()


def twilio_sms(workspace, fake):
    Channel.objects.filter(workspace=workspace, kind="sms").update(status="disabled")
    return channel_create(
        workspace=workspace,
        actor=Actor.system("test"),
        kind="sms",
        provider="twilio",
        name="Twilio SMS",
        address="+15017122661",
        credentials={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
        rate_limit_per_second=1000,
        settings={"api_base": fake.url},
    )


def queue(workspace, count: int) -> list[Message]:
    contacts = ContactFactory.create_batch(count, workspace=workspace)
    messages, _ = message_send_batch(
        workspace=workspace,
        contacts=contacts,
        channel="sms",
        content={"text": "Your code"},
        now=timezone.now(),
    )
    return messages


def kill(process) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def finish(tmp_path, name="final"):
    """A fresh worker that runs until the queue has been idle for 3 s (past the 1 s lease)."""
    worker = start_dispatcher(tmp_path / f"{name}.log", "--exit-when-idle", "3", "--max-seconds", "90", **ENV)
    assert worker.wait(timeout=120) == 0, (tmp_path / f"{name}.log").read_text()


def received_refs(fake) -> Counter:
    return Counter(
        urllib.parse.parse_qs(urllib.parse.urlparse(form["StatusCallback"]).query)["ref"][0]
        for form in fake.messages()
    )


def test_a_worker_killed_while_twilio_answers_never_sends_that_message_twice(
    client, workspace, fake, tmp_path
):
    # given six queued messages on Twilio, and a worker that dies while Twilio answers the third
    channel = twilio_sms(workspace, fake)
    messages = queue(workspace, 6)
    worker = start_dispatcher(tmp_path / "killed.log", "--batch", "2", **ENV)
    calls = []

    def on_request(record):
        calls.append(record)
        if len(calls) == 3:
            os.killpg(worker.pid, signal.SIGKILL)  # Twilio has the message; the worker never hears back
            time.sleep(0.2)

    fake.on_request = on_request
    worker.wait(timeout=60)
    assert worker.returncode == -signal.SIGKILL, (tmp_path / "killed.log").read_text()
    fake.on_request = None

    # when a fresh worker takes over
    finish(tmp_path)

    # then Twilio received every message exactly once
    refs = received_refs(fake)
    assert sorted(refs) == sorted(m.reference for m in messages)
    assert set(refs.values()) == {1}
    # the one whose answer was lost is not sent again: its outcome is unknown, and says so
    states = {m.reference: m for m in Message.objects.filter(pk__in=[m.pk for m in messages])}
    third = states[
        urllib.parse.parse_qs(urllib.parse.urlparse(calls[2]["form"]["StatusCallback"]).query)["ref"][0]
    ]
    assert (third.status, third.error_code) == (S.UNKNOWN, OUTCOME_UNKNOWN)
    assert sorted(m.status for m in states.values()) == [S.SENT] * 5 + [S.UNKNOWN]

    # and Twilio's delivery receipt, when it comes, settles it (it carries our reference)
    body = urllib.parse.urlencode(
        {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
    )
    signed_post(client, channel, "status", body, query=f"ref={third.reference}")
    third.refresh_from_db()
    assert (third.status, third.provider_message_id) == (S.DELIVERED, "SM" + "0" * 32)


def _kill_repeatedly(tmp_path, times: int, stop) -> int:
    """Start a worker, wait until it has claimed messages (it is inside sending), kill it at a
    random moment shortly after; again and again."""
    kills = 0
    rng = random.Random(7)
    for i in range(times):
        if stop():
            break
        started = timezone.now()
        worker = start_dispatcher(tmp_path / f"w{i}.log", "--batch", "10", **ENV)
        deadline = time.monotonic() + 30
        while (
            time.monotonic() < deadline
            and not Message.objects.filter(status=S.SENDING, claimed_at__gte=started).exists()
        ):
            if worker.poll() is not None or stop():
                break
            time.sleep(0.02)
        time.sleep(rng.random() * 0.3)
        kill(worker)
        kills += 1
        time.sleep(rng.choice([0.2, 1.2]))  # sometimes within the 1 s lease, sometimes after
    return kills


def test_workers_killed_at_random_moments_never_send_a_twilio_message_twice(workspace, fake, tmp_path):
    twilio_sms(workspace, fake)
    messages = queue(workspace, 80)
    fake.on_request = lambda record: time.sleep(0.01)  # ~100 calls/s: kills land mid-queue
    kills = _kill_repeatedly(tmp_path, 4, stop=lambda: len(fake.messages()) >= len(messages))
    fake.on_request = None
    finish(tmp_path)

    refs = received_refs(fake)
    assert max(refs.values()) == 1, f"sent twice: {[r for r, n in refs.items() if n > 1]}"
    final = list(Message.objects.filter(pk__in=[m.pk for m in messages]))
    sent = {m.reference for m in final if m.status == S.SENT}
    unknown = {m.reference for m in final if m.error_code == OUTCOME_UNKNOWN}
    assert sent | unknown == {m.reference for m in final}  # nothing lost, nothing stuck
    assert sent <= set(refs)  # what we call sent, Twilio has
    assert len(unknown) <= kills  # at most the one call in flight per kill


def test_workers_killed_at_random_moments_lose_nothing_on_the_sandbox(workspace, tmp_path):
    # given a sandbox that takes 0.3 s to answer each batch (it has the messages meanwhile)
    messages = queue(workspace, 120)
    Channel.objects.filter(workspace=workspace, kind="sms").update(settings={"sandbox": {"latency_s": 0.3}})
    _kill_repeatedly(
        tmp_path, 3, stop=lambda: not Message.objects.filter(status__in=[S.QUEUED, S.SENDING]).exists()
    )
    finish(tmp_path)

    final = Counter(Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("status", flat=True))
    assert set(final) <= {S.SENT, S.DELIVERED} and sum(final.values()) == 120
    received = Counter(SandboxDelivery.objects.values_list("reference", flat=True))
    assert len(received) == 120 and max(received.values()) == 1
    # kills landed mid-batch: claims were recovered and sent again with the same reference
    assert MessageStatusEvent.objects.filter(source="recovery").exists()
