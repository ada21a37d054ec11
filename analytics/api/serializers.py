"""Output of the analytics API: the numbers the home dashboard and the messaging health page show."""

from rest_framework import serializers


class PeriodSerializer(serializers.Serializer):
    first = serializers.DateField(help_text="First local day (the workspace's zone), inclusive.")
    last = serializers.DateField(help_text="Last local day, inclusive.")
    start = serializers.DateTimeField(help_text="The first day's local midnight.")
    end = serializers.DateTimeField(help_text="The local midnight after the last day.")
    days = serializers.IntegerField(source="length", help_text="How many days.")


class FigureSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    previous = serializers.FloatField(allow_null=True, help_text="The same figure over the previous period.")
    change = serializers.FloatField(
        allow_null=True, help_text="Relative change from the previous period, in %."
    )
    unit = serializers.CharField(allow_blank=True)


class JourneyFiguresSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    entries = serializers.IntegerField()
    entries_previous = serializers.IntegerField()
    conversions = serializers.IntegerField()
    conversions_previous = serializers.IntegerField()
    conversion_rate = serializers.FloatField(allow_null=True, help_text="Conversions per 100 entries.")


class AttentionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    failed_messages = serializers.IntegerField()
    lag_s = serializers.FloatField(help_text="How long the journey's oldest due enrolment has waited.")
    waiting = serializers.IntegerField()


class BucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Count per status.")


class MarketingSerializer(serializers.Serializer):
    figures = FigureSerializer(many=True)
    journeys = JourneyFiguresSerializer(many=True, help_text="Live journeys.")
    attention = AttentionSerializer(many=True, help_text="Journeys with failed messages or lagging.")
    today = serializers.DateField()
    today_by_channel = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text="Messages created today: {channel kind: {status: count}}.",
    )
    grain = serializers.ChoiceField(choices=["hour", "day"])
    series = BucketSerializer(many=True, help_text="Messages per bucket by status.")


class OptOutRateSerializer(serializers.Serializer):
    kind = serializers.CharField()
    purpose = serializers.CharField()
    messages = serializers.IntegerField()
    opt_outs = serializers.IntegerField()
    per_1000 = serializers.FloatField(allow_null=True)


class RuleCountSerializer(serializers.Serializer):
    rule = serializers.CharField()
    count = serializers.IntegerField()
    previous = serializers.IntegerField()


class ReasonCountSerializer(serializers.Serializer):
    reason = serializers.CharField()
    count = serializers.IntegerField()
    previous = serializers.IntegerField()


class ProviderErrorSerializer(serializers.Serializer):
    provider = serializers.CharField()
    code = serializers.CharField()
    count = serializers.IntegerField()
    previous = serializers.IntegerField()
    explanation = serializers.CharField(allow_blank=True)


class ComplianceSerializer(serializers.Serializer):
    figures = FigureSerializer(many=True)
    consent_series = BucketSerializer(many=True, help_text="Consent events per bucket by new status.")
    optout_rates = OptOutRateSerializer(many=True)
    blocked = RuleCountSerializer(many=True)
    suppressions = ReasonCountSerializer(many=True)
    provider_errors = ProviderErrorSerializer(many=True)


class DashboardSerializer(serializers.Serializer):
    period = PeriodSerializer()
    previous = PeriodSerializer()
    marketing = MarketingSerializer()
    compliance = ComplianceSerializer(required=False, help_text="Admins and API tokens only.")


class LatencySerializer(serializers.Serializer):
    count = serializers.IntegerField()
    mean_s = serializers.FloatField(allow_null=True)
    p50_s = serializers.FloatField(allow_null=True)
    p95_s = serializers.FloatField(allow_null=True)


class StagesSerializer(serializers.Serializer):
    queued_sent = LatencySerializer()
    sent_delivered = LatencySerializer()
    queued_delivered = LatencySerializer()


class DeliverySerializer(serializers.Serializer):
    kind = serializers.CharField()
    provider = serializers.CharField()
    attempted = serializers.IntegerField(
        help_text="Handed to the provider: sending, sent, unknown, delivered, read, failed."
    )
    delivered = serializers.IntegerField(help_text="Delivered or read.")
    failed = serializers.IntegerField()
    unknown = serializers.IntegerField()
    delivery_rate = serializers.FloatField(allow_null=True, help_text="Delivered per 100 attempted.")
    delivery_rate_previous = serializers.FloatField(allow_null=True)
    change = serializers.FloatField(allow_null=True, help_text="Percentage points from the previous period.")
    latency = StagesSerializer()


class HealthErrorSerializer(serializers.Serializer):
    provider = serializers.CharField()
    kind = serializers.CharField()
    code = serializers.CharField(allow_blank=True)
    count = serializers.IntegerField()
    previous = serializers.IntegerField()
    change = serializers.FloatField(allow_null=True)
    explanation = serializers.CharField(allow_blank=True)


class JourneyOptOutSerializer(serializers.Serializer):
    journey_id = serializers.IntegerField()
    journey = serializers.CharField()
    messages = serializers.IntegerField()
    opt_outs = serializers.IntegerField()
    per_1000 = serializers.FloatField(allow_null=True)


class HealthSerializer(serializers.Serializer):
    period = PeriodSerializer()
    previous = PeriodSerializer()
    delivery = DeliverySerializer(many=True)
    errors = HealthErrorSerializer(many=True)
    optouts_by_journey = JourneyOptOutSerializer(many=True)
