"""A/B experiments on journey split nodes (docs/experiments.md): the Experiment (one per
`split.ab` node, keyed by journey id and node id as plain values: journeys sits above this app),
each contact's sticky ExperimentAssignment (its creation is the exposure), the per-arm exposure
counters (ExperimentArm, added to with one UPDATE per engine round) and the audited Decisions."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from contacts.models import Contact
from cpaas.models import Workspace

# The guardrail metrics exp-stats computes; each threshold is the largest acceptable rise of the
# metric in a variant over control, as a fraction (0.01 = one percentage point).
GUARDRAIL_METRICS = ("opt_out_rate", "delivery_failure_rate", "complaint_replies")
SECONDARY_METRICS = ("reply_rate", "cost_per_conversion")
DEFAULT_GOAL_WINDOW_S = 7 * 86400
DEFAULT_MIN_RUNTIME_S = 7 * 86400


class Experiment(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"  # its journey is not live with this node yet
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"  # new traffic goes to control
        DECIDED = "decided", "Decided"  # new traffic goes to the winner

    class Correction(models.TextChoices):
        HOLM = "holm", "Holm (family-wise error)"
        BH = "bh", "Benjamini–Hochberg (false discovery rate)"

    class Rule(models.TextChoices):
        MANUAL = "manual", "A person declares the winner"
        AUTO = "auto", "Declared automatically when the rule holds"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="experiments")
    # The split node it lives on: plain values, no foreign key up to journeys. Together they are
    # the stable key assignment hashes on (the same across versions and restarts).
    journey_id = models.BigIntegerField()
    node = models.CharField(max_length=64)
    name = models.CharField(max_length=120)
    hypothesis = models.TextField(blank=True)
    # [{"exit": "a", "name": "Friendly", "weight": 50, "control": true}, ...]: weights add up to
    # 100, exactly one control. Copied from the node's config when the journey is saved/published.
    variants = models.JSONField(default=list)
    # The channel kind (or "preferred") and purpose the arms message on: a contact who may not be
    # messaged there right now is not exposed (docs/experiments.md). Empty: no consent gate.
    channel = models.CharField(max_length=20, blank=True)
    purpose = models.CharField(max_length=32, blank=True)
    goal_event = models.CharField(max_length=100, blank=True)
    goal_window_s = models.PositiveIntegerField(default=DEFAULT_GOAL_WINDOW_S)
    # {"opt_out_rate": {"threshold": 0.01}, ...}: keys from GUARDRAIL_METRICS
    guardrails = models.JSONField(default=dict, blank=True)
    secondary_metrics = models.JSONField(default=list, blank=True)
    # Price per message segment per channel kind for cost per conversion: {"sms": 0.04}
    prices = models.JSONField(default=dict, blank=True)
    baseline_rate = models.FloatField(
        null=True, blank=True, help_text="Expected control conversion rate, for the sample size."
    )
    mde = models.FloatField(default=0.1, help_text="Minimum detectable effect, relative (0.1 = +10 %).")
    power = models.FloatField(default=0.8)
    alpha = models.FloatField(default=0.05)
    min_runtime_s = models.PositiveIntegerField(default=DEFAULT_MIN_RUNTIME_S)
    sequential = models.BooleanField(
        default=False, help_text="Always-valid intervals: looking early is safe."
    )
    correction = models.CharField(max_length=8, choices=Correction.choices, default=Correction.HOLM)
    decision_rule = models.CharField(max_length=8, choices=Rule.choices, default=Rule.MANUAL)
    auto_stop_on_guardrail = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    winner = models.CharField(max_length=40, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # experiments.results (exp-stats) writes its cached dict here
    results = models.JSONField(default=dict, blank=True)
    results_computed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["journey_id", "node"], name="experiment_unique_node"),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "running", "stopped", "decided"]), name="experiment_status"
            ),
            models.CheckConstraint(
                condition=~Q(status="decided") | ~Q(winner=""), name="experiment_decided_winner"
            ),
        ]
        indexes = [models.Index(fields=["workspace", "status"], name="experiment_ws_status")]

    def __str__(self) -> str:
        return self.name or f"{self.node} of journey {self.journey_id}"

    @property
    def control(self) -> str:
        return next((v["exit"] for v in self.variants if v.get("control")), "")

    @property
    def exits(self) -> list[str]:
        return [v["exit"] for v in self.variants]

    def clean(self) -> None:
        problems = variants_problems(self.variants)
        if problems:
            raise ValidationError({"variants": problems})
        if self.winner and self.winner not in self.exits:
            raise ValidationError({"winner": [f"'{self.winner}' is not one of the variants."]})
        unknown = set(self.guardrails or {}) - set(GUARDRAIL_METRICS)
        if unknown:
            raise ValidationError({"guardrails": [f"Unknown guardrail '{sorted(unknown)[0]}'."]})


def variants_problems(variants) -> list[str]:
    """The one-row rules of a variant list, in words (the node's check and the model share them)."""
    if not isinstance(variants, list) or len(variants) < 2:
        return ["At least two variants."]
    problems = []
    exits = [v.get("exit") for v in variants]
    if len(set(exits)) != len(exits):
        problems.append("Each variant needs its own exit name.")
    total = sum(int(v.get("weight") or 0) for v in variants)
    if total != 100:
        problems.append(f"The weights add up to {total}; they must add up to 100.")
    controls = sum(1 for v in variants if v.get("control"))
    if controls != 1:
        problems.append(f"Exactly one variant is the control ({controls} marked).")
    return problems


class ExperimentArm(models.Model):
    """One variant's exposure count, added to with `F() + n` in one UPDATE per engine round (so two
    engines never lose each other's counts); it always equals the variant's assignment rows."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="arms")
    exit = models.CharField(max_length=40)
    exposures = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["experiment", "id"]
        constraints = [models.UniqueConstraint(fields=["experiment", "exit"], name="experiment_arm_unique")]

    def __str__(self) -> str:
        return f"{self.experiment_id}/{self.exit}: {self.exposures}"


class ExperimentAssignment(models.Model):
    """A contact's sticky variant of one experiment; its creation is the exposure (once)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="assignments")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    variant = models.CharField(max_length=40)
    exposed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "contact"], name="experiment_assignment_unique")
        ]
        indexes = [models.Index(fields=["experiment", "variant", "exposed_at"], name="experiment_assign_arm")]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.variant}"


class Decision(models.Model):
    """A decision on an experiment, with the numbers it was made on (the results dict then)."""

    class Kind(models.TextChoices):
        WINNER = "winner", "Winner declared"
        STOP = "stop", "Stopped"
        GUARDRAIL_STOP = "guardrail_stop", "Stopped by a guardrail"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="decisions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    winner = models.CharField(max_length=40, blank=True)
    automatic = models.BooleanField(default=False)
    actor_label = models.CharField(max_length=150)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    reason = models.CharField(max_length=500, blank=True)
    numbers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.winner}".strip()
