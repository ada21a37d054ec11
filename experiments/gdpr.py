"""What the experiments app holds about a person, for GDPR export and erasure through
cpaas.gdpr: their sticky variant of each experiment (when they were exposed). Erasing an
assignment takes its exposure out of the arm's count too, so the counts keep equalling the rows."""

from __future__ import annotations

from collections import Counter

from django.db.models import F

from cpaas.gdpr import Subject, register

from .models import Decision, Experiment, ExperimentArm, ExperimentAssignment


def export(contact) -> dict:
    return {
        "assignments": list(
            ExperimentAssignment.objects.filter(contact=contact)
            .order_by("exposed_at", "id")
            .values("experiment_id", "experiment__name", "variant", "exposed_at")
        )
    }


def erase(subject: Subject) -> dict:
    rows = ExperimentAssignment.objects.filter(contact=subject.contact)
    arms = Counter(rows.values_list("experiment_id", "variant"))
    for (experiment_id, variant), n in sorted(arms.items()):
        ExperimentArm.objects.filter(experiment_id=experiment_id, exit=variant).update(
            exposures=F("exposures") - n
        )
    return {"assignments": rows.delete()[0]}


register(
    "experiments",
    export=export,
    erase=erase,
    covers=[ExperimentAssignment],
    not_personal={
        Experiment: "the experiment's settings and aggregate results",
        ExperimentArm: "an exposure count per variant",
        Decision: "aggregate numbers a decision was made on",
    },
)
