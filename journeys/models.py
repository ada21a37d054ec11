"""Journeys: the journey and its immutable versions (the graph), enrolments of contacts and
the steps they took, audience runs (segment / date / manual starts), the canvas counters
and promises to pay. A/B assignments are the experiments app's."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from contacts.models import Contact, Segment
from cpaas.models import Workspace


class PublishedVersionChanged(ValidationError):
    """A published version never changes."""


class Journey(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        LIVE = "live", "Live"
        PAUSED = "paused", "Paused"
        ARCHIVED = "archived", "Archived"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="journeys")
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # entry rules
    allow_reentry = models.BooleanField(default=False, help_text="A contact may enter again after leaving.")
    one_active = models.BooleanField(default=True, help_text="At most one active enrolment per contact.")
    exit_on_goal = models.BooleanField(default=True, help_text="A contact leaves when a goal is reached.")
    purpose = models.CharField(
        max_length=32, blank=True,
        help_text="What the journey's messages are for (transactional, marketing, ...): new message nodes "
        "get it; blank: each new message asks.",
    )  # fmt: skip
    expiry_days = models.PositiveIntegerField(
        default=30, help_text="An enrolment still open after this many days ends as expired."
    )
    live_version = models.ForeignKey(
        "JourneyVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # the live version's trigger, copied at publish so triggers are found with one indexed query
    trigger_kind = models.CharField(max_length=20, blank=True)
    trigger_key = models.CharField(max_length=100, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True, help_text="Next scheduled audience run.")
    template_key = models.CharField(max_length=60, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="journey_unique_name")]
        indexes = [
            models.Index(
                fields=["workspace", "trigger_kind", "trigger_key", "status"], name="journey_trigger"
            ),
            models.Index(
                fields=["next_run_at"], condition=Q(next_run_at__isnull=False), name="journey_next_run"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_live(self) -> bool:
        return self.status == self.Status.LIVE


class JourneyVersionQuerySet(models.QuerySet):
    def update(self, **kwargs):
        if set(kwargs) & JourneyVersion.FROZEN_FIELDS and self.filter(published_at__isnull=False).exists():
            raise PublishedVersionChanged("A published version never changes: edit the draft instead.")
        return super().update(**kwargs)


class JourneyVersion(models.Model):
    """One graph of a journey. The draft (published_at null, at most one per journey) saves
    cheaply; publishing freezes it for good (model, queryset and database trigger refuse)."""

    FROZEN_FIELDS = frozenset({"graph", "number", "journey", "journey_id", "published_at"})

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(null=True, blank=True, help_text="Set when published: 1, 2, ...")
    graph = models.JSONField(default=dict)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    is_test = models.BooleanField(
        default=False,
        help_text="A frozen copy of the draft for an editor test run: published_at set, no number, "
        "never live and not in the version history.",
    )

    objects = JourneyVersionQuerySet.as_manager()

    class Meta:
        ordering = ["journey", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["journey"], condition=Q(published_at__isnull=True), name="journey_one_draft"
            ),
            models.UniqueConstraint(
                fields=["journey", "number"], condition=Q(number__isnull=False), name="journey_version_number"
            ),
        ]

    def __str__(self) -> str:
        if self.is_test:
            return f"{self.journey} (test run)"
        return f"{self.journey} v{self.number}" if self.number else f"{self.journey} (draft)"

    def save(self, *args, **kwargs):
        if self.pk:
            stored = (
                JourneyVersion.objects.filter(pk=self.pk).values("graph", "number", "published_at").first()
            )
            if stored and stored["published_at"] is not None:
                if (
                    stored["graph"] != self.graph
                    or stored["number"] != self.number
                    or (stored["published_at"] != self.published_at)
                ):
                    raise PublishedVersionChanged(
                        "A published version never changes: edit the draft instead."
                    )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.published_at is not None:
            raise PublishedVersionChanged("A published version is kept: archive the journey instead.")
        return super().delete(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class Enrollment(models.Model):
    """One contact in one journey version. `due_at` is when the engine must look at it next
    (now for a new enrolment or a resume signal, the deadline of a wait); `resume_token`
    changes every time it starts waiting, so a stale timer or a late event does nothing."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        WAITING = "waiting", "Waiting"
        COMPLETED = "completed", "Completed"
        GOAL = "goal", "Goal reached"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    OPEN = ("active", "waiting")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="enrollments")
    version = models.ForeignKey(JourneyVersion, on_delete=models.PROTECT, related_name="enrollments")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="enrollments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    node = models.CharField(max_length=64)
    context = models.JSONField(default=dict, blank=True)
    state = models.JSONField(default=dict, blank=True, help_text="The current node's own state.")
    wait_kind = models.CharField(max_length=10, blank=True, help_text="timer, reply, event, webhook")
    wait_event = models.CharField(max_length=100, blank=True)
    wait_match = models.JSONField(default=dict, blank=True)
    wait_until = models.DateTimeField(null=True, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    resume = models.JSONField(
        null=True, blank=True, help_text="A pending signal: reply, event, webhook result"
    )
    resume_token = models.PositiveIntegerField(default=0)
    steps_count = models.PositiveIntegerField(default=0)
    guard = models.JSONField(
        default=dict,
        blank=True,
        help_text="The runaway guard: visits per node since the last wait (v), steps (n) in the window from w",
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    entered_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=300, blank=True)
    trigger_key = models.CharField(max_length=200, null=True, blank=True)
    active_lock = models.BooleanField(
        null=True, blank=True, help_text="True while open in a one-active journey"
    )
    is_test = models.BooleanField(
        default=False, help_text="An editor test run: not counted, runs whatever the journey's status"
    )

    class Meta:
        ordering = ["-entered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "trigger_key"],
                condition=Q(trigger_key__isnull=False),
                name="enrollment_unique_trigger",
            ),
            models.UniqueConstraint(
                fields=["journey", "contact"], condition=Q(active_lock=True), name="enrollment_one_active"
            ),
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(due_at__isnull=False), name="enrollment_due"),
            models.Index(fields=["contact", "status"], name="enrollment_contact"),
            models.Index(fields=["journey", "status"], name="enrollment_journey"),
            # analytics rollups recompute an hour of enrolments and of goal conversions by time
            models.Index(fields=["workspace", "entered_at"], name="enrollment_ws_entered"),
            models.Index(
                fields=["workspace", "ended_at"], condition=Q(status="goal"), name="enrollment_ws_goal"
            ),
        ]

    def __str__(self) -> str:
        return f"contact {self.contact_id} in {self.journey_id} at {self.node} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class Step(models.Model):
    """One visit of a node: which exit it took (blank while waiting or at the end)."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="steps")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="+")
    node = models.CharField(max_length=64)
    node_type = models.CharField(max_length=40)
    exit = models.CharField(max_length=40, blank=True)
    at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["enrollment", "at"], name="step_enrollment")]

    def __str__(self) -> str:
        return f"{self.node} -> {self.exit or '…'}"


class AudienceRun(models.Model):
    """Enrols an audience (a segment, a date rule, a list of contacts) in batches, resumable:
    `cursor` is the last contact id handled."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Source(models.TextChoices):
        SEGMENT = "segment", "Segment"
        DATE = "date", "Date attribute"
        CONTACTS = "contacts", "Contact list"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="audience_runs")
    source = models.CharField(max_length=10, choices=Source.choices)
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    contact_ids = models.JSONField(default=list, blank=True)
    params = models.JSONField(default=dict, blank=True)
    run_key = models.CharField(max_length=120, help_text="Idempotency: one run per key and journey")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    enrolled = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["journey", "run_key"], name="audience_run_unique_key")]
        indexes = [
            models.Index(
                fields=["status"], condition=Q(status__in=["queued", "running"]), name="audience_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} run of {self.journey_id}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(100, int(self.processed * 100 / self.total)) if self.total else 0


class JourneyCounter(models.Model):
    """Canvas and journey numbers, maintained incrementally by the engine (an upsert that adds
    deltas): node '' holds the journey's totals, keys 'entered', 'waiting', 'exit:<name>'
    per node."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="counters")
    node = models.CharField(max_length=64, blank=True)
    key = models.CharField(max_length=60)
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["journey", "node", "key"], name="journey_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.journey_id} {self.node}.{self.key}={self.value}"


class PromiseToPay(models.Model):
    class Status(models.TextChoices):
        PROMISED = "promised", "Promised"
        PAID = "paid", "Paid"
        BROKEN = "broken", "Broken"
        CANCELLED = "cancelled", "Cancelled"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="promises_to_pay")
    journey = models.ForeignKey(Journey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    due_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROMISED)
    source_text = models.CharField(max_length=500, blank=True, help_text="What the contact wrote")
    reminder_channel = models.CharField(
        max_length=16, blank=True, help_text="Channel kind of the reminder on the day (blank: the node's)"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The agent who recorded it (blank: the journey, from the contact's reply)",
    )
    created_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "contact", "-created_at"], name="ptp_contact")]

    def __str__(self) -> str:
        return f"promise {self.amount or ''} by {self.due_date} ({self.status})"
