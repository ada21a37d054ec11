"""Issue 14: the A/B assignments the engine wrote itself (journeys.Assignment) move into the
experiments app: one Experiment per (journey, split node) seen, its arms counted from the rows,
every assignment copied with its variant and first exposure (the variants stay where they are:
the hash is the same). Reversible: the copies go back. Batched, no app code imported."""

from collections import Counter

from django.db import migrations

BATCH = 2000


def variants_for(graph, node, seen):
    config = ((graph or {}).get("nodes") or {}).get(node, {}).get("config") or {}
    variants = [v for v in config.get("variants") or [] if isinstance(v, dict) and v.get("exit")]
    if not variants:  # the node is gone from the live version: the variants its rows name
        variants = [{"exit": e, "weight": 0} for e in sorted(seen)]
    marked = [v["exit"] for v in variants if v.get("control")]
    control = marked[0] if marked else variants[0]["exit"]
    return [
        {"exit": v["exit"], "name": str(v.get("name") or v["exit"]), "weight": int(v.get("weight") or 0),
         "control": v["exit"] == control}
        for v in variants
    ]


def forwards(apps, schema_editor):
    Assignment = apps.get_model("journeys", "Assignment")
    Journey = apps.get_model("journeys", "Journey")
    Experiment = apps.get_model("experiments", "Experiment")
    Arm = apps.get_model("experiments", "ExperimentArm")
    Copy = apps.get_model("experiments", "ExperimentAssignment")
    keys = Assignment.objects.values_list("journey_id", "node").distinct().order_by("journey_id", "node")
    for journey_id, node in keys:
        journey = Journey.objects.select_related("live_version").get(pk=journey_id)
        rows = Assignment.objects.filter(journey_id=journey_id, node=node)
        seen = set(rows.values_list("variant", flat=True).distinct())
        first = rows.order_by("exposed_at").values_list("exposed_at", flat=True).first()
        graph = journey.live_version.graph if journey.live_version_id else {}
        experiment, _ = Experiment.objects.get_or_create(
            journey_id=journey_id, node=node,
            defaults={"workspace_id": journey.workspace_id, "name": f"{journey.name} · {node}"[:120],
                      "variants": variants_for(graph, node, seen), "status": "running", "started_at": first},
        )
        counts = Counter()
        last = 0
        while True:
            chunk = list(rows.filter(pk__gt=last).order_by("pk")[:BATCH])
            if not chunk:
                break
            last = chunk[-1].pk
            Copy.objects.bulk_create(
                [Copy(workspace_id=journey.workspace_id, experiment=experiment, contact_id=a.contact_id,
                      variant=a.variant, exposed_at=a.exposed_at) for a in chunk],
                ignore_conflicts=True,
            )
            counts.update(a.variant for a in chunk)
        for exit_ in {v["exit"] for v in experiment.variants} | set(counts):
            Arm.objects.update_or_create(experiment=experiment, exit=exit_, defaults={"exposures": counts[exit_]})


def backwards(apps, schema_editor):
    Assignment = apps.get_model("journeys", "Assignment")
    Copy = apps.get_model("experiments", "ExperimentAssignment")
    last = 0
    while True:
        chunk = list(Copy.objects.filter(pk__gt=last).select_related("experiment").order_by("pk")[:BATCH])
        if not chunk:
            break
        last = chunk[-1].pk
        Assignment.objects.bulk_create(
            [Assignment(journey_id=c.experiment.journey_id, node=c.experiment.node, contact_id=c.contact_id,
                        variant=c.variant, exposed_at=c.exposed_at, exposures=1) for c in chunk],
            ignore_conflicts=True,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0006_promise_reminder_channel_and_agent"),
        ("experiments", "0001_experiments_assignments_decisions"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
