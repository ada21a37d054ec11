"""The journey facts the experiment pages show (experiments.journey_facts): registered at start-up,
since experiments may not import journeys."""

from .models import Enrollment, Journey, Step


class JourneyFacts:
    def names(self, *, workspace, journey_ids):
        return dict(Journey.objects.filter(workspace=workspace, pk__in=journey_ids).values_list("pk", "name"))

    def entries(self, *, workspace, journey_id, node, since):
        return (
            Step.objects.filter(journey_id=journey_id, journey__workspace=workspace, node=node, at__gte=since)
            .exclude(enrollment__is_test=True)
            .count()
        )

    def enrolments(self, *, workspace, journey_id, since):
        return Enrollment.objects.filter(
            workspace=workspace, journey_id=journey_id, entered_at__gte=since, is_test=False
        ).count()
