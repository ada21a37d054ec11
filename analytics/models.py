"""Rollups: counts per hour and per day that pages and the API read instead of counting raw
messages, consent events and enrolments (docs/analytics.md, `analytics/rollups.py` writes them)."""

from __future__ import annotations

from django.db import models

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
