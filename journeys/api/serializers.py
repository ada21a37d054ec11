"""Input and output serializers of the journeys API."""

from rest_framework import serializers

from contacts.api.serializers import StrictInputSerializer
from cpaas.api.common import OutputModelSerializer

from ..models import AudienceRun, Enrollment, Journey, JourneyVersion, Step
from ..templates_catalogue import TEMPLATES


class RulesSerializer(StrictInputSerializer):
    allow_reentry = serializers.BooleanField(required=False)
    one_active = serializers.BooleanField(required=False)
    exit_on_goal = serializers.BooleanField(required=False)
    expiry_days = serializers.IntegerField(required=False, min_value=1, max_value=3650)


class JourneyInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    rules = RulesSerializer(required=False)
    purpose = serializers.CharField(
        max_length=32, required=False, allow_blank=True,
        help_text="What the journey's messages are for (transactional, marketing, ...): new message nodes in "
        "the editor take it; blank: each asks.",
    )  # fmt: skip
    graph = serializers.JSONField(
        required=False, help_text="A journey graph (schema 1); default: trigger → exit."
    )
    template = serializers.CharField(
        required=False,
        help_text="Start from a template, by key: "
        + ", ".join(TEMPLATES)
        + " (docs/journeys.md describes them).",
    )


class JourneyOutputSerializer(OutputModelSerializer):
    live_version = serializers.IntegerField(source="live_version.number", allow_null=True, default=None)
    status = serializers.CharField(help_text="draft, live, paused or archived")
    rules = serializers.SerializerMethodField()

    class Meta:
        model = Journey
        fields = ["id", "name", "description", "status", "live_version", "trigger_kind", "trigger_key", "rules", "purpose",
                  "template_key", "next_run_at", "created_at", "updated_at"]  # fmt: skip

    def get_rules(self, obj) -> dict:
        return {k: getattr(obj, k) for k in ("allow_reentry", "one_active", "exit_on_goal", "expiry_days")}


class JourneyDetailOutputSerializer(JourneyOutputSerializer):
    """One journey (read, create, update, status): also its engine backlog, which a list leaves
    out (a query per journey)."""

    lag_s = serializers.SerializerMethodField(
        help_text="How long the oldest enrolment due now has waited for the engine (0 when it keeps up)."
    )

    class Meta(JourneyOutputSerializer.Meta):
        fields = [*JourneyOutputSerializer.Meta.fields, "lag_s"]

    def get_lag_s(self, obj) -> float:
        from journeys.selectors import journey_lag_s

        return journey_lag_s(workspace=obj.workspace_id, journey=obj)


class ProblemSerializer(serializers.Serializer):
    node = serializers.CharField(allow_null=True)
    field = serializers.CharField(allow_blank=True)
    message = serializers.CharField()
    text = serializers.CharField(help_text="The problem in words, naming the node by its title.")


class DraftInputSerializer(StrictInputSerializer):
    graph = serializers.JSONField()


class DraftOutputSerializer(serializers.Serializer):
    graph = serializers.JSONField()
    updated_at = serializers.DateTimeField()
    problems = ProblemSerializer(many=True)


class PublishInputSerializer(StrictInputSerializer):
    note = serializers.CharField(max_length=300, required=False, allow_blank=True)


class VersionOutputSerializer(OutputModelSerializer):
    author = serializers.CharField(source="author.username", allow_null=True, default=None)

    class Meta:
        model = JourneyVersion
        fields = ["number", "published_at", "author", "note", "graph"]


class StatusInputSerializer(StrictInputSerializer):
    action = serializers.ChoiceField(choices=["pause", "resume", "archive"])


class JourneyContactRefSerializer(StrictInputSerializer):
    id = serializers.IntegerField(required=False)
    external_id = serializers.CharField(required=False, max_length=120)
    phone = serializers.CharField(required=False, max_length=40)


class StartInputSerializer(StrictInputSerializer):
    contacts = JourneyContactRefSerializer(
        many=True, required=False, help_text="[{id} | {external_id} | {phone}]"
    )
    segment = serializers.IntegerField(required=False)
    contact = JourneyContactRefSerializer(
        required=False,
        help_text="Start for one contact ({id} | {external_id} | {phone}): one the entry rules would skip "
        "(already in the journey, or re-entry off) is refused with why, instead of a run that enrols nobody.",
    )
    create_missing = serializers.BooleanField(
        default=False, help_text="Create contacts named by external_id or phone that do not exist (else 400)."
    )
    idempotency_key = serializers.CharField(required=False, max_length=100, allow_blank=True)


class RunOutputSerializer(OutputModelSerializer):
    percent = serializers.IntegerField()
    status = serializers.CharField(help_text="queued, running, done or failed")
    source = serializers.CharField(help_text="segment, date or contacts")

    class Meta:
        model = AudienceRun
        fields = ["id", "source", "status", "total", "processed", "enrolled", "skipped", "percent", "error",
                  "created_at", "started_at", "finished_at"]  # fmt: skip


class StepOutputSerializer(OutputModelSerializer):
    class Meta:
        model = Step
        fields = ["node", "node_type", "exit", "at", "detail"]


class EnrollmentOutputSerializer(OutputModelSerializer):
    journey = serializers.IntegerField(source="journey_id")
    version = serializers.IntegerField(source="version.number", allow_null=True,
                                       help_text="The version number; null for an editor test run")  # fmt: skip
    contact = serializers.IntegerField(source="contact_id")
    status = serializers.CharField(help_text="active, waiting, completed, goal, expired, cancelled or failed")
    is_test = serializers.BooleanField(help_text="An editor test run of the draft (not counted)")

    class Meta:
        model = Enrollment
        fields = ["id", "journey", "version", "contact", "status", "node", "wait_kind", "wait_event", "wait_until",
                  "entered_at", "ended_at", "end_reason", "context", "is_test"]  # fmt: skip


class EnrollmentDetailSerializer(EnrollmentOutputSerializer):
    steps = StepOutputSerializer(many=True, source="step_list")

    class Meta(EnrollmentOutputSerializer.Meta):
        fields = EnrollmentOutputSerializer.Meta.fields + ["steps"]


class CancelInputSerializer(StrictInputSerializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True)


class CountersOutputSerializer(serializers.Serializer):
    totals = serializers.DictField(child=serializers.IntegerField())
    messages = serializers.DictField(child=serializers.IntegerField())
    nodes = serializers.DictField(child=serializers.JSONField())
