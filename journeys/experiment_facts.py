"""The journey facts the experiment pages show, and the one change they ask of a journey (a draft
split's variants): `experiments.journey_facts`, registered at start-up, since experiments may not
import journeys."""

import copy

from django.core.exceptions import ValidationError
from django.db import transaction

from cpaas.locks import lock_refresh

from .models import Enrollment, Journey, Step
from .services import draft_for, draft_save


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

    @transaction.atomic
    def variants_save(self, *, workspace, journey_id, node, variants, actor):
        """The experiment page edits a draft split's names, weights and control: written into the
        journey's draft (the node's config owns them), which keeps the experiment in step."""
        journey = lock_refresh(Journey.objects.get(workspace=workspace, pk=journey_id))
        graph = copy.deepcopy(draft_for(journey).graph)
        spec = (graph.get("nodes") or {}).get(node)
        if not isinstance(spec, dict) or spec.get("type") != "split.ab":
            raise ValidationError(
                {"variants": ["This split is not in the journey's draft any more: open the journey."]}
            )
        spec.setdefault("config", {})["variants"] = variants
        draft_save(journey=journey, actor=actor, graph=graph)
