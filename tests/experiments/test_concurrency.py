"""Exposure counts are exact when two `manage.py engine` processes assign at the same time
(PostgreSQL): every contact is enrolled twice, so both engines meet the same contacts at the
split, and each contact is still exposed once, in one arm, counted once."""

import datetime as dt
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from experiments.models import Experiment, ExperimentArm, ExperimentAssignment
from journeys.models import Enrollment, JourneyCounter, Step
from tests.journeys.conftest import graph, node
from tests.journeys.test_processes import make_contacts, start, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
BATCH = 250


def test_two_engines_count_every_exposure_exactly_once(workspace, publish, actor, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("several engines claiming with SKIP LOCKED: the PostgreSQL run covers it")
    n = 3000
    ids = make_contacts(workspace, n)
    journey = publish(
        graph(
            trigger=node("trigger.manual", {}, next="ab"),
            ab=node("split.ab", {"variants": [{"exit": "a", "weight": 34, "control": True},
                                              {"exit": "b", "weight": 33}, {"exit": "c", "weight": 33}]},
                    a="end", b="end", c="end"),
            end=node("exit"),
        ),
        allow_reentry=True, one_active=False,
    )  # fmt: skip
    # every contact twice, the second enrolment one batch later in the claim order: while one
    # engine assigns a batch, the other assigns the same contacts' second enrolments
    now = timezone.now() - dt.timedelta(minutes=5)
    at = [now + dt.timedelta(milliseconds=pos) for pos in range(2 * n)]
    Enrollment.objects.bulk_create(
        [Enrollment(workspace=workspace, journey=journey, version=journey.live_version, contact_id=cid,
                    status="active", node="ab", due_at=at[k + second * BATCH + (k // BATCH) * BATCH], entered_at=now)
         for k, cid in enumerate(ids) for second in (0, 1)],
        batch_size=2000,
    )  # fmt: skip
    workers = [start("engine", tmp_path / f"engine{i}.log", "--batch", str(BATCH)) for i in (1, 2)]
    try:
        done = wait_for(
            lambda: (
                Enrollment.objects.filter(journey=journey).count() == 2 * n
                and not Enrollment.objects.filter(journey=journey, status__in=Enrollment.OPEN).exists()
            ),
            timeout=180,
        )
        assert done, (tmp_path / "engine1.log").read_text()[-2000:]
    finally:
        for p in workers:
            stop(p)
    experiment = Experiment.objects.get(journey_id=journey.pk, node="ab")
    rows = Counter(
        ExperimentAssignment.objects.filter(experiment=experiment).values_list("variant", flat=True)
    )
    assert sum(rows.values()) == n
    arms = dict(ExperimentArm.objects.filter(experiment=experiment).values_list("exit", "exposures"))
    assert arms == dict(rows)
    canvas = dict(JourneyCounter.objects.filter(journey=journey, node="ab", key__startswith="exposure:")
                  .values_list("key", "value"))  # fmt: skip
    assert canvas == {f"exposure:{k}": v for k, v in rows.items()}
    # both enrolments of each contact took the contact's one arm
    taken = Counter(
        Step.objects.filter(journey=journey, node="ab").values_list("enrollment__contact_id", "exit")
    )
    assert len(taken) == n and set(taken.values()) == {2}
    assert failed_none(journey)


def failed_none(journey):
    return not Enrollment.objects.filter(journey=journey, status="failed").exists()
