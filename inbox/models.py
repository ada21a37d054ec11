"""The agent inbox (docs/inbox.md, issue 13): queues and who works them, one conversation per
contact at a time, the timeline's non-message entries (activity and private notes), unread
markers, canned replies and the workspace's inbox settings.

A conversation's messages are the contact's `channels_app.Message` rows (every channel, both
directions, journey and agent): the inbox stores no copy of them. `inbox.selectors.timeline`
merges them with `Entry` rows by time. Writes go through `inbox.services`; the status and
assignment fields are changed there only."""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from contacts.models import ChannelKind, Contact
from cpaas.models import Workspace

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


class Priority(models.TextChoices):
    """The same values the `inbox.handoff` node's `priority` config takes."""

    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


# Sort rank of a priority (higher first): the list orders by it, then by waiting time.
PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Queue(models.Model):
    """Where conversations wait for an agent. `name` is what a journey's `inbox.handoff` node
    names in its `queue` config; a hand-off to a name the workspace does not have yet creates
    the queue (label = name, no SLA, auto-assignment off) so no hand-off is ever lost."""

    class AutoAssign(models.TextChoices):
        OFF = "off", "Off (agents claim)"
        ROUND_ROBIN = "round_robin", "Round robin"
        LEAST_LOADED = "least_loaded", "Least loaded"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=60, help_text="As the journey hand-off node names it.")
    label = models.CharField(max_length=120, blank=True)
    auto_assign = models.CharField(max_length=12, choices=AutoAssign.choices, default=AutoAssign.OFF)
    capacity = models.PositiveSmallIntegerField(
        default=10, help_text="Open conversations auto-assignment gives one agent at most."
    )
    first_response_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="SLA: first agent reply within this many business-hour seconds."
    )
    resolution_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="SLA: resolved within this many business-hour seconds."
    )
    last_assigned_user_id = models.BigIntegerField(
        null=True, blank=True, help_text="Round-robin cursor: the member who got the last conversation."
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="QueueMember", related_name="inbox_queues", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label", "name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="inbox_queue_unique_name")]

    def __str__(self) -> str:
        return self.label or self.name

    @property
    def display_name(self) -> str:
        return self.label or self.name


class QueueMember(models.Model):
    """An agent who works a queue: sees its conversations and may be auto-assigned them."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["queue", "user"], name="inbox_queue_member_unique")]
        indexes = [models.Index(fields=["user", "queue"], name="inbox_member_user")]

    def __str__(self) -> str:
        return f"user {self.user_id} in queue {self.queue_id}"


class AgentStatus(models.Model):
    """An agent's availability in one workspace. Auto-assignment gives conversations to online
    agents only. Set by hand, or to away by `assignment.idle_agents_away` after
    InboxSettings.idle_away_minutes without activity (`last_seen_at`)."""

    class Availability(models.TextChoices):
        ONLINE = "online", "Online"
        AWAY = "away", "Away"
        OFFLINE = "offline", "Offline"

    class SetBy(models.TextChoices):
        HAND = "hand", "By hand"
        IDLE = "idle", "Idle time"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    availability = models.CharField(max_length=8, choices=Availability.choices, default=Availability.OFFLINE)
    set_by = models.CharField(max_length=4, choices=SetBy.choices, default=SetBy.HAND)
    changed_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "agent statuses"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="inbox_agent_status_unique")
        ]

    def __str__(self) -> str:
        return f"user {self.user_id}: {self.availability}"


class Conversation(models.Model):
    """One thread with one contact. At most one conversation per contact per workspace is not
    resolved (a database constraint); a new inbound message or hand-off reopens it, a resolved
    one stays as history and a later one gets a new number.

    `waiting_since` is when the contact started waiting for an agent (their first unanswered
    inbound message, or the hand-off); an agent reply clears it. SLA due times are computed in
    the workspace's business hours when the conversation opens (`inbox.sla`)."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"  # waiting for the customer
        SNOOZED = "snoozed", "Snoozed"  # until snoozed_until, then open again
        RESOLVED = "resolved", "Resolved"

    class Disposition(models.TextChoices):
        PAID = "paid", "Paid"
        PROMISED = "promised", "Promised to pay"
        DISPUTE = "dispute", "Dispute"
        HARDSHIP = "hardship", "Hardship"
        WRONG_NUMBER = "wrong_number", "Wrong number"
        VULNERABLE = "vulnerable", "Vulnerable"

    Priority = Priority

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    number = models.PositiveIntegerField(help_text="Per workspace, shown as #number.")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    priority = models.CharField(max_length=6, choices=Priority.choices, default=Priority.NORMAL)
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="conversations")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(help_text="Opened, or reopened last.")
    waiting_since = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_inbound_kind = models.CharField(
        max_length=16, choices=ChannelKind.choices, blank=True, help_text="The composer's default channel."
    )
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    needs_review = models.BooleanField(default=False)
    review_reason = models.CharField(max_length=300, blank=True)
    disposition = models.CharField(max_length=12, choices=Disposition.choices, blank=True)
    # the journey that handed the contact off, to resume it (plain ids: enrolments may be erased)
    handoff_journey_id = models.BigIntegerField(null=True, blank=True)
    handoff_enrollment_id = models.BigIntegerField(null=True, blank=True)
    handoff_node = models.CharField(max_length=64, blank=True)
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "number"], name="inbox_conversation_unique_number"),
            models.UniqueConstraint(
                fields=["workspace", "contact"],
                condition=~Q(status="resolved"),
                name="inbox_conversation_one_unresolved",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "status", "queue", "waiting_since"], name="inbox_conv_list"),
            models.Index(fields=["workspace", "assignee", "status"], name="inbox_conv_assignee"),
            models.Index(fields=["workspace", "-last_message_at"], name="inbox_conv_recent"),
            models.Index(
                fields=["queue", "opened_at"],
                condition=Q(assignee__isnull=True, status="open"),
                name="inbox_conv_unassigned",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.number}"

    @property
    def is_resolved(self) -> bool:
        return self.status == self.Status.RESOLVED

    def first_response_breached(self, now: dt.datetime) -> bool:
        due = self.first_response_due_at
        return due is not None and (self.first_response_at or now) > due

    def resolution_breached(self, now: dt.datetime) -> bool:
        due = self.resolution_due_at
        return due is not None and (self.resolved_at or now) > due


class Entry(models.Model):
    """A timeline item that is not a message: an activity (who assigned, a status change, a
    journey's hand-off with its note...) or an agent's private note, which the contact never
    sees. `data` holds the activity's details (e.g. {"from": user id, "to": user id},
    {"journey_id", "node"}, {"amount", "due_date"})."""

    class Kind(models.TextChoices):
        NOTE = "note", "Private note"
        OPENED = "opened", "Opened"
        ASSIGNED = "assigned", "Assigned"
        TRANSFERRED = "transferred", "Transferred"
        STATUS_CHANGED = "status_changed", "Status changed"
        PRIORITY_CHANGED = "priority_changed", "Priority changed"
        HANDED_OFF = "handed_off", "Handed off by a journey"
        RETURNED_TO_JOURNEY = "returned_to_journey", "Returned to the journey"
        PROMISE_RECORDED = "promise_recorded", "Promise to pay recorded"
        CONSENT_CHANGED = "consent_changed", "Consent changed"
        FLAGGED_FOR_REVIEW = "flagged_for_review", "Flagged for review"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(blank=True, help_text="A note's text, or the hand-off's note.")
    data = models.JSONField(default=dict, blank=True)
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "entries"
        indexes = [models.Index(fields=["conversation", "created_at"], name="inbox_entry_conversation")]

    def __str__(self) -> str:
        return f"{self.kind} on conversation {self.conversation_id}"


class Reply(models.Model):
    """Which agent sent an outbound message from the inbox (the Message itself is
    `sent_by="person"`, `origin="agent"`); the timeline shows the author, the supervisor page
    counts replies per agent."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="replies")
    message = models.OneToOneField(
        "channels_app.Message", on_delete=models.CASCADE, related_name="inbox_reply"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "replies"
        indexes = [models.Index(fields=["workspace", "author", "created_at"], name="inbox_reply_author")]

    def __str__(self) -> str:
        return f"reply {self.message_id} by user {self.author_id}"


class ReadMarker(models.Model):
    """Up to when an agent has read a conversation: newer messages and entries are unread."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="read_markers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_read_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="inbox_read_marker_unique")
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} read {self.conversation_id} to {self.last_read_at}"


class CannedReply(models.Model):
    """A saved answer the composer inserts for `/shortcut`. The body may hold merge fields
    (`{{contact.first_name}}`, as journeys' templates do)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    shortcut = models.SlugField(max_length=40)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shortcut"]
        verbose_name_plural = "canned replies"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "shortcut"], name="inbox_canned_reply_unique_shortcut"
            )
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"


def validate_business_hours(value) -> None:
    """{"mon": [["09:00", "17:00"]], ..., "sun": []}: intervals per weekday in the workspace's
    time zone. An empty object means open around the clock; a day missing from a non-empty
    object is closed."""
    if not isinstance(value, dict):
        raise ValidationError('An object of weekdays, e.g. {"mon": [["09:00", "17:00"]]}.')
    for day, intervals in value.items():
        if day not in WEEKDAYS:
            raise ValidationError(f"Unknown weekday '{day}': use {', '.join(WEEKDAYS)}.")
        if not isinstance(intervals, list):
            raise ValidationError(f"{day}: a list of [start, end] pairs.")
        for pair in intervals:
            if not (
                isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(t, str) for t in pair)
            ):
                raise ValidationError(f'{day}: each interval is ["HH:MM", "HH:MM"].')
            if not all(_HHMM.match(t) for t in pair):
                raise ValidationError(
                    f"{day}: '{pair[0]}'–'{pair[1]}' is not HH:MM to HH:MM (00:00 to 24:00)."
                )
            if pair[0] >= pair[1]:
                raise ValidationError(f"{day}: {pair[0]}–{pair[1]} ends before it starts.")


class InboxSettings(models.Model):
    """The inbox's settings of one workspace (created on first use by
    `inbox.services.inbox_settings_get`). Whether agents may browse every contact is
    `cpaas.Workspace.contacts_open_to_agents`, since the contacts app (below the inbox) reads it."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, primary_key=True, related_name="inbox_settings"
    )
    business_hours = models.JSONField(default=dict, blank=True, validators=[validate_business_hours])
    default_queue = models.ForeignKey(
        Queue,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Where a conversation started by the contact goes (else the queue 'support').",
    )
    idle_away_minutes = models.PositiveSmallIntegerField(
        default=15, help_text="An online agent without activity this long becomes away."
    )
    last_number = models.PositiveIntegerField(default=0, help_text="The last conversation number given.")

    class Meta:
        verbose_name_plural = "inbox settings"

    def __str__(self) -> str:
        return f"inbox settings of workspace {self.workspace_id}"

    def intervals(self, weekday: int) -> list[tuple[dt.time, dt.time | None]]:
        """The open intervals of a weekday (0 = Monday); None as the end means midnight."""
        if not self.business_hours:
            return [(dt.time(0, 0), None)]
        out = []
        for start, end in self.business_hours.get(WEEKDAYS[weekday], []):
            out.append((dt.time.fromisoformat(start), None if end == "24:00" else dt.time.fromisoformat(end)))
        return sorted(out, key=lambda pair: pair[0])
