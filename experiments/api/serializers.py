"""Input and output serializers of the experiments API."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.api.serializers import StrictInputSerializer
from cpaas.api.common import OutputModelSerializer

from ..models import Decision, Experiment


class VariantSerializer(serializers.Serializer):
    exit = serializers.CharField()
    name = serializers.CharField()
    weight = serializers.IntegerField()
    control = serializers.BooleanField()
    exposures = serializers.IntegerField(help_text="Contacts exposed in this arm so far (exact).")


class ExperimentOutputSerializer(OutputModelSerializer):
    variants = serializers.SerializerMethodField()
    status = serializers.CharField(help_text="draft, running, stopped or decided")

    class Meta:
        model = Experiment
        fields = ["id", "journey_id", "node", "name", "hypothesis", "status", "winner", "variants", "channel",
                  "purpose", "goal_event", "goal_window_s", "guardrails", "secondary_metrics", "prices",
                  "baseline_rate", "mde", "power", "alpha", "min_runtime_s", "sequential", "correction",
                  "decision_rule", "auto_stop_on_guardrail", "started_at", "ended_at", "results_computed_at",
                  "created_at", "updated_at"]  # fmt: skip

    @extend_schema_field(VariantSerializer(many=True))
    def get_variants(self, obj) -> list[dict]:
        counts = {arm.exit: arm.exposures for arm in obj.arms.all()}
        return [{**v, "exposures": counts.get(v["exit"], 0)} for v in obj.variants]


class ExperimentInputSerializer(StrictInputSerializer):
    """The settings a person edits (the arms are the split node's: edit them in the journey)."""

    name = serializers.CharField(max_length=120, required=False)
    hypothesis = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    goal_event = serializers.CharField(max_length=100, required=False, allow_blank=True)
    goal_window_s = serializers.IntegerField(required=False, min_value=0, max_value=366 * 86400)
    guardrails = serializers.JSONField(
        required=False,
        help_text='{"opt_out_rate": {"threshold": 0.01}}: the largest acceptable rise over control.',
    )
    secondary_metrics = serializers.ListField(child=serializers.CharField(), required=False)
    prices = serializers.JSONField(
        required=False, help_text='Price per message segment by channel kind: {"sms": 0.04}.'
    )
    baseline_rate = serializers.FloatField(required=False, allow_null=True)
    mde = serializers.FloatField(
        required=False, help_text="Minimum detectable effect, relative (0.1 = +10 %)."
    )
    power = serializers.FloatField(required=False)
    alpha = serializers.FloatField(required=False)
    min_runtime_s = serializers.IntegerField(required=False, min_value=0, max_value=366 * 86400)
    sequential = serializers.BooleanField(required=False)
    correction = serializers.ChoiceField(choices=Experiment.Correction.choices, required=False)
    decision_rule = serializers.ChoiceField(choices=Experiment.Rule.choices, required=False)
    auto_stop_on_guardrail = serializers.BooleanField(required=False)


class WinnerInputSerializer(StrictInputSerializer):
    winner = serializers.CharField(max_length=40, help_text="The exit name of the winning variant.")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class StopInputSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class DecisionOutputSerializer(OutputModelSerializer):
    class Meta:
        model = Decision
        fields = ["id", "kind", "winner", "automatic", "actor_label", "reason", "numbers", "created_at"]


class ResultsOutputSerializer(serializers.Serializer):
    experiment = serializers.IntegerField()
    computed_at = serializers.DateTimeField(allow_null=True)
    results = serializers.JSONField(
        help_text="experiments.results: per arm, SRM, guardrails (docs/experiments.md)."
    )
