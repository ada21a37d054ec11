"""Live counts are pushed: every counter flush tells the journey's workspace group, once per
journey, in the transaction that writes the counters."""

import pytest
from django.db import transaction

from cpaas.models import RealtimeEvent
from cpaas.realtime import TOPICS, workspace_group
from journeys.engine.counters import CounterDeltas
from journeys.services import journey_create
from tests.journeys.conftest import linear

pytestmark = pytest.mark.django_db


def journey(workspace, actor, name):
    return journey_create(workspace=workspace, actor=actor, name=name, graph=linear(("trigger.manual", {})))


def test_a_flush_publishes_one_counts_message_per_journey_touched(
    settings, workspace, other_workspace, actor, other_admin
):
    from cpaas.tenancy import Actor

    settings.REALTIME_MODE = "relay"
    a, b = journey(workspace, actor, "A"), journey(workspace, actor, "B")
    c = journey_create(
        workspace=other_workspace,
        actor=Actor.for_user(other_admin),
        name="C",
        graph=linear(("trigger.manual", {})),
    )
    deltas = CounterDeltas()
    for j in (a, a, b, c):
        deltas.add(j.pk, "trigger", "entered")
    deltas.add(a.pk, "", "active")
    deltas.flush()
    rows = sorted((r.group, r.payload["journey"]) for r in RealtimeEvent.objects.all())
    assert rows == sorted(
        [
            (workspace_group(workspace.pk, "journeys"), a.pk),
            (workspace_group(workspace.pk, "journeys"), b.pk),
            (workspace_group(other_workspace.pk, "journeys"), c.pk),
        ]
    )
    assert {r.payload["type"] for r in RealtimeEvent.objects.all()} == {"journey.counts"}
    # nothing to add, nothing to say
    CounterDeltas().flush()
    assert RealtimeEvent.objects.count() == 3
    assert TOPICS["journeys"] == "journeys.view"


def test_a_rolled_back_flush_publishes_nothing(settings, workspace, actor):
    settings.REALTIME_MODE = "relay"
    a = journey(workspace, actor, "A")
    with pytest.raises(RuntimeError), transaction.atomic():
        deltas = CounterDeltas()
        deltas.add(a.pk, "", "enrolled")
        deltas.flush()
        raise RuntimeError("rolled back")
    assert not RealtimeEvent.objects.exists()
