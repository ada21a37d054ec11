"""The scale-out topology for real: two engines and two dispatchers on one PostgreSQL database
(in the Redis-mode pass of scripts/test.sh with the real redis-server too) share a run with
nothing lost or doubled."""

import pytest
from django.db import connection
from django.db.models import Count

from channels_app.models import Channel, Message, SandboxDelivery
from cpaas.models import Heartbeat
from journeys.models import Enrollment, JourneyCounter, Step
from journeys.services import journey_start
from tests.journeys.conftest import linear
from tests.journeys.test_processes import make_contacts
from tests.topology import Topology, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_engines_and_two_dispatchers_share_a_run_with_nothing_lost_or_doubled(
    workspace, publish, actor, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("several engines and dispatchers claiming with SKIP LOCKED: PostgreSQL")
    # given 3,000 contacts started in a journey that sends, waits a second and sends again
    ids = make_contacts(workspace, 3000)
    Channel.objects.filter(workspace=workspace, kind="sms").update(rate_limit_per_second=20000)
    journey = publish(
        linear(("trigger.manual", {}), ("message.send", {"channel": "sms", "template": {"en": "First"}}),
               ("wait.delay", {"seconds": 1}), ("message.send", {"channel": "sms", "template": {"en": "Second"}}))
    )  # fmt: skip
    journey_start(journey=journey, actor=actor, contact_ids=ids)
    # when two engines and two dispatchers work it together, in small batches so both of each take part
    args = {"engine": ["--batch", "100"], "dispatcher": ["-v", "2", "--batch", "100"]}
    with Topology(tmp_path, engine=2, dispatcher=2, args=args) as topology:
        finished = wait_for(
            lambda: (
                Enrollment.objects.filter(journey=journey).count() == 3000
                and not Enrollment.objects.filter(journey=journey, status__in=Enrollment.OPEN).exists()
                and SandboxDelivery.objects.count() >= 6000
            ),
            timeout=240,
        )
        topology.assert_alive()
        assert finished, topology.log("engine1")[-2000:]
        beating = set(Heartbeat.objects.filter(kind__in=["engine", "dispatcher"]).values_list("kind", "pid"))
        logs = [topology.log(f"dispatcher{i}") for i in (1, 2)]
    # then both dispatchers claimed messages and all four processes were alive and beating...
    assert all("claimed=" in log for log in logs), [log[-500:] for log in logs]
    assert sorted(kind for kind, _ in beating) == ["dispatcher", "dispatcher", "engine", "engine"]
    # ...every contact got exactly the two messages, and the provider received each once
    per_contact = Message.objects.filter(workspace=workspace, direction="out").values("contact_id")
    assert {row["n"] for row in per_contact.annotate(n=Count("id"))} == {2}
    assert per_contact.values("contact_id").distinct().count() == 3000
    assert SandboxDelivery.objects.count() == 6000
    assert SandboxDelivery.objects.values("reference").distinct().count() == 6000
    assert Step.objects.filter(journey=journey, node="end").count() == 3000
    totals = dict(JourneyCounter.objects.filter(journey=journey, node="").values_list("key", "value"))
    assert (totals["enrolled"], totals["completed"], totals["active"]) == (3000, 3000, 0)
