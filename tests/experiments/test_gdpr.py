"""GDPR: a person's experiment assignments are in their export, and erasing them takes their
exposure out of the arm's count, so the counts keep equalling the rows."""

from cpaas import gdpr
from experiments.models import ExperimentArm, ExperimentAssignment
from tests.experiments.test_assignment import NOON, ab_graph, enter, people


def test_assignments_are_exported_and_erased_with_their_exposure(workspace, publish, fire, engine, actor):
    publish(ab_graph())
    person, other = people(workspace, 2)
    enter(fire, [person, other], NOON)
    engine(NOON)
    mine = ExperimentAssignment.objects.get(contact=person)

    exported = gdpr.contact_export(contact=person, actor=actor, at=NOON)
    assert [
        (a["experiment__name"], a["variant"]) for a in exported["sections"]["experiments"]["assignments"]
    ] == [("Wording", mine.variant)]

    done = gdpr.contact_erase(contact=person, actor=actor, reason="Art. 17", confirmation="ERASE", at=NOON)
    assert done["experiments"]["assignments"] == 1
    assert list(ExperimentAssignment.objects.values_list("contact_id", flat=True)) == [other.pk]
    arms = dict(ExperimentArm.objects.values_list("exit", "exposures"))
    left = ExperimentAssignment.objects.get().variant
    assert arms == {left: 1, ({"a", "b"} - {left}).pop(): 0}
