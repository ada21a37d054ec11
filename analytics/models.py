"""Rollups: counts per hour and per day that pages and the API read instead of counting raw
messages, consent events and enrolments (docs/analytics.md, `analytics/rollups.py` writes them);
and the app's settings rows: the price table (cost of a journey's messages) and the lifecycle
stage rules (the lifecycle report)."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models

from contacts.models import ChannelKind
from cpaas.models import Workspace


class Rollup(models.Model):
    """One count of one metric in one time bucket, for one combination of dimensions.

    Hour rows start on the workspace's hour grid (UTC hours, shifted by the minutes of a zone such
    as Asia/Kolkata's +5:30, so its days are whole hours); day rows start at the workspace's local
    midnight and are the sum of that day's hour rows. Which dimensions a metric fills, and what
    `code` and `total` mean for it, is `rollups.METRICS`; unused dimensions are blank or null, so
    a row is the same whichever run wrote it."""

    class Grain(models.TextChoices):
        HOUR = "h", "Hour"
        DAY = "d", "Day"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    grain = models.CharField(max_length=1, choices=Grain.choices)
    start = models.DateTimeField()
    metric = models.CharField(max_length=24)
    kind = models.CharField(max_length=16, blank=True)
    provider = models.CharField(max_length=32, blank=True)
    channel_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=12, blank=True)
    code = models.CharField(max_length=60, blank=True)
    rule = models.CharField(max_length=60, blank=True)
    purpose = models.CharField(max_length=40, blank=True)
    journey_id = models.BigIntegerField(null=True, blank=True)
    version_id = models.BigIntegerField(null=True, blank=True)
    bucket = models.SmallIntegerField(null=True, blank=True, help_text="Latency histogram bucket")
    count = models.BigIntegerField(default=0)
    total = models.FloatField(default=0, help_text="Segments of messages; seconds of latency")

    class Meta:
        indexes = [models.Index(fields=["workspace", "metric", "grain", "start"], name="rollup_read")]

    def __str__(self) -> str:
        return f"{self.metric} {self.grain} {self.start:%Y-%m-%d %H:%M} = {self.count}"


class RollupState(models.Model):
    """Per workspace: the zone and hour grid its rows were built in (a new zone with other minutes
    rebuilds them), and when it was last refreshed. Its row lock serialises refreshes."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="+", primary_key=True)
    timezone = models.CharField(max_length=64)
    grid_minutes = models.PositiveSmallIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    refreshed_until = models.DateTimeField(
        null=True, blank=True, help_text="Every write before this instant is in the rollups."
    )

    def __str__(self) -> str:
        return f"rollups of workspace {self.workspace_id} ({self.timezone})"


class RollupCursor(models.Model):
    """How far a refresh has read an append-only id sequence (message status events), kept with a
    few earlier (time, id) marks: each run reads again from the mark of LATE seconds ago, so a row
    committed after a higher id (PostgreSQL commits out of order) is still seen."""

    source = models.CharField(max_length=40, primary_key=True)
    marks = models.JSONField(default=list, help_text="[[iso time, max id], ...], newest last")

    def __str__(self) -> str:
        return f"cursor {self.source}"


class Price(models.Model):
    """What one message segment costs on a channel kind, for one country (ISO 3166 alpha-2 of
    the recipient's number) or for every country (`country` blank). Channels without segments
    (email, WhatsApp...) count one per message."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    country = models.CharField(max_length=2, blank=True, help_text="Blank: every other country.")
    price = models.DecimalField(max_digits=10, decimal_places=5, validators=[MinValueValidator(0)])
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ["kind", "country"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "kind", "country"], name="analytics_price_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.country or '*'} {self.price} {self.currency}"


class LifecycleRule(models.Model):
    """One rule putting contacts in a lifecycle stage: an event they performed (ever, or within
    the last `within_days` days) or an attribute (any value, or the value given)."""

    class Stage(models.TextChoices):
        AWARENESS = "awareness", "Awareness"
        ENGAGEMENT = "engagement", "Engagement"
        CONVERSION = "conversion", "Conversion"
        RETENTION = "retention", "Retention"
        LOYALTY = "loyalty", "Loyalty"

    class Source(models.TextChoices):
        EVENT = "event", "Event"
        ATTRIBUTE = "attribute", "Attribute"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    stage = models.CharField(max_length=12, choices=Stage.choices)
    source = models.CharField(max_length=10, choices=Source.choices)
    key = models.CharField(max_length=100, help_text="The event name or the attribute key.")
    value = models.CharField(max_length=200, blank=True, help_text="Attribute: the value (blank: any).")
    within_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Event: within the last N days (blank: ever)."
    )

    class Meta:
        ordering = ["stage", "pk"]

    def __str__(self) -> str:
        return f"{self.stage}: {self.source} {self.key}"

    def matches_attributes(self, attributes: dict) -> bool:
        value = attributes.get(self.key)
        if value in (None, "", False):
            return False
        if not self.value:
            return True
        if isinstance(value, bool):
            return str(value).lower() == self.value.strip().lower()
        return str(value).strip().lower() == self.value.strip().lower()
