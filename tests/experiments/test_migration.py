"""The assignments the engine wrote before the experiments app (journeys.Assignment) move into
it: an experiment per split node, every contact in the same arm, the arm counts from the rows;
and back again."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("journeys", "0006_promise_reminder_channel_and_agent"),
    ("experiments", "0001_experiments_assignments_decisions"),
]
AFTER = [("journeys", "0007_assignments_into_experiments")]
T = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_old_assignments_become_experiment_assignments_and_come_back(workspace):
    apps = migrate(BEFORE)
    try:
        Journey = apps.get_model("journeys", "Journey")
        Version = apps.get_model("journeys", "JourneyVersion")
        Assignment = apps.get_model("journeys", "Assignment")
        Contact = apps.get_model("contacts", "Contact")
        journey = Journey.objects.create(workspace_id=workspace.pk, name="Old", status="live")
        graph = {"nodes": {"ab": {"type": "split.ab", "config": {"variants": [
            {"exit": "x", "weight": 70}, {"exit": "y", "weight": 30}]}}}}  # fmt: skip
        version = Version.objects.create(journey=journey, graph=graph, number=1, published_at=T)
        Journey.objects.filter(pk=journey.pk).update(live_version=version)
        people = [Contact.objects.create(workspace_id=workspace.pk, first_name=f"P{i}") for i in range(5)]
        for i, person in enumerate(people):
            Assignment.objects.create(journey=journey, node="ab", contact=person, variant="xy"[i % 2],
                                      exposed_at=T + dt.timedelta(minutes=i), exposures=2)  # fmt: skip

        apps = migrate(AFTER)
        Experiment = apps.get_model("experiments", "Experiment")
        experiment = Experiment.objects.get(journey_id=journey.pk, node="ab")
        assert experiment.status == "running" and experiment.started_at == T
        assert experiment.variants == [
            {"exit": "x", "name": "x", "weight": 70, "control": True},
            {"exit": "y", "name": "y", "weight": 30, "control": False},
        ]
        copied = apps.get_model("experiments", "ExperimentAssignment").objects.filter(experiment=experiment)
        assert sorted(copied.values_list("contact_id", "variant")) == [
            (p.pk, "xy"[i % 2]) for i, p in enumerate(people)
        ]
        arms = dict(apps.get_model("experiments", "ExperimentArm").objects.values_list("exit", "exposures"))
        assert arms == {"x": 3, "y": 2}

        apps = migrate(BEFORE)
        back = apps.get_model("journeys", "Assignment").objects.order_by("contact_id")
        assert [(a.contact_id, a.variant) for a in back] == [
            (p.pk, "xy"[i % 2]) for i, p in enumerate(people)
        ]
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
