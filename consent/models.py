"""The consent registry: who may be contacted on which channel for which purpose, with proof.

ConsentEvent is the append-only evidence log; ConsentRecord is the current state, derived from
the events by `consent.services.records.record_fold`. Suppression keeps only a hash of each
address. SendRecord and InboundRecord are the ledgers the messaging layer feeds (frequency caps,
the WhatsApp service window). Purposes, caps and keywords are per-workspace policy."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from contacts.models import ChannelKind, Contact
from cpaas.models import Workspace


class Status(models.TextChoices):
    OPTED_IN = "opted_in", "Opted in"
    PENDING = "pending", "Pending (double opt-in)"
    OPTED_OUT = "opted_out", "Opted out"
    SUPPRESSED = "suppressed", "Suppressed"


class LawfulBasis(models.TextChoices):
    CONSENT = "consent", "Consent"
    CONTRACT = "contract", "Contract"
    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation"
    LEGITIMATE_INTEREST = "legitimate_interest", "Legitimate interest"
    SOFT_OPT_IN = "soft_opt_in", "Soft opt-in (existing customer)"


class Method(models.TextChoices):
    WEB_FORM = "web_form", "Web form"
    KEYWORD = "keyword", "Inbound keyword"
    IVR = "ivr", "IVR (phone menu)"
    AGENT_VERBAL = "agent_verbal", "Told an agent"
    WRITTEN = "written", "Letter or email"
    IMPORT = "import", "Import"
    API = "api", "API"
    SYSTEM = "system", "System"


class SentBy(models.TextChoices):
    """Who sends a message: check() decides differently for each (vulnerable customers, quiet
    hours); an opt-out binds both."""

    AUTOMATION = "automation", "Automation (journey, API, campaign)"
    PERSON = "person", "A person (agent reply)"


class ActorType(models.TextChoices):
    USER = "user", "User"
    TOKEN = "token", "API token"
    KEYWORD = "keyword", "Inbound keyword"
    IMPORT = "import", "Import"
    SYSTEM = "system", "System"


# --- append-only events -------------------------------------------------------------------------


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete a consent event outside GDPR erasure."""


class ConsentEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Consent events are append-only: they cannot be updated.")

    def delete(self):
        raise AppendOnlyError(
            "Consent events are append-only: they can only be removed by GDPR erasure "
            "(consent.services.gdpr.consent_erase)."
        )

    def _erase_contact_events(self, contact_id: int) -> int:
        """The one delete path: called by GDPR erasure inside the erasure gate (see
        ErasureGate); the database refuses it otherwise."""
        return models.QuerySet.delete(self.filter(contact_id=contact_id))[0]


class ConsentEvent(models.Model):
    """One change of consent with its evidence. Never updated, never deleted (GDPR erasure aside):
    the model, its queryset and a database trigger all refuse."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="consent_events")
    # No database constraint and no cascade: deleting a contact keeps its consent evidence
    # (proof of consent must outlive the contact); GDPR erasure removes it explicitly.
    contact = models.ForeignKey(
        Contact, on_delete=models.DO_NOTHING, db_constraint=False, related_name="consent_events"
    )
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    purpose = models.CharField(max_length=40)
    sender_scope = models.CharField(
        max_length=64, blank=True, help_text="Empty: every sender of the channel; else one sender."
    )
    previous_status = models.CharField(max_length=12, choices=Status.choices, blank=True)
    new_status = models.CharField(max_length=12, choices=Status.choices)
    lawful_basis = models.CharField(max_length=24, choices=LawfulBasis.choices, blank=True)
    actor_type = models.CharField(max_length=8, choices=ActorType.choices)
    actor_label = models.CharField(max_length=150)
    actor_ref = models.CharField(max_length=40, blank=True, help_text="user:<id>, token:<id>, import:<id>")
    method = models.CharField(max_length=16, choices=Method.choices)
    occurred_at = models.DateTimeField(help_text="When the person gave or withdrew consent.")
    recorded_at = models.DateTimeField(help_text="When the registry recorded it.")
    expires_at = models.DateTimeField(null=True, blank=True)
    jurisdiction = models.CharField(max_length=12, blank=True, help_text="e.g. GB, US-CA, EU")
    reason = models.CharField(max_length=500)
    # evidence
    notice_text = models.TextField(blank=True, help_text="The words the person agreed to.")
    notice_version = models.CharField(max_length=60, blank=True)
    url = models.CharField(max_length=500, blank=True)
    language = models.CharField(max_length=8, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    inbound_message_id = models.CharField(max_length=120, blank=True)
    recording_id = models.CharField(max_length=120, blank=True)
    source_ref = models.CharField(max_length=60, blank=True, help_text="import:<id>, keyword:<word>")

    objects = ConsentEventQuerySet.as_manager()

    EVIDENCE_FIELDS = (
        "notice_text",
        "notice_version",
        "url",
        "language",
        "ip_address",
        "user_agent",
        "inbound_message_id",
        "recording_id",
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "channel_kind", "purpose", "occurred_at"]),
            models.Index(fields=["workspace", "-recorded_at"]),
            models.Index(fields=["workspace", "inbound_message_id"]),
        ]

    def __str__(self) -> str:
        return f"consent event #{self.pk} {self.channel_kind}/{self.purpose}: {self.new_status}"

    def save(self, *args, **kwargs):
        if self.pk is not None or not self._state.adding:
            raise AppendOnlyError("Consent events are append-only: record a new event instead.")
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Consent events are append-only: they can only be removed by GDPR erasure.")

    @property
    def evidence(self) -> dict:
        return {f: getattr(self, f) for f in self.EVIDENCE_FIELDS if getattr(self, f)}


class ErasureGate(models.Model):
    """A row here, for the length of one erasure transaction, lets the database delete that
    contact's consent events. It is inserted and removed in the same transaction, so no other
    connection ever sees it (the triggers in migration 0002 check it)."""

    contact_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"erasure gate for contact {self.contact_id}"


# --- current state ------------------------------------------------------------------------------


class ConsentRecord(models.Model):
    """The current state per (contact, channel kind, purpose, sender scope): a fold of the
    events, rewritten by the service that appends them. `consent_rebuild` checks it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="consent_records")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_records")
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    purpose = models.CharField(max_length=40)
    sender_scope = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices)
    lawful_basis = models.CharField(max_length=24, choices=LawfulBasis.choices, blank=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_event_id = models.BigIntegerField()
    updated_at = models.DateTimeField()

    STATE_FIELDS = (
        "status",
        "lawful_basis",
        "captured_at",
        "confirmed_at",
        "expires_at",
        "revoked_at",
        "last_event_id",
        "updated_at",
    )

    class Meta:
        ordering = ["channel_kind", "purpose", "sender_scope"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "channel_kind", "purpose", "sender_scope"],
                name="consent_record_unique_key",
            )
        ]
        indexes = [models.Index(fields=["workspace", "channel_kind", "purpose", "status"])]

    def __str__(self) -> str:
        # No personal data: this label lands in the audit log.
        return f"consent #{self.pk} {self.channel_kind}/{self.purpose}"

    def is_active_opt_in(self, at: dt.datetime) -> bool:
        return self.status == Status.OPTED_IN and (self.expires_at is None or at < self.expires_at)


# --- suppression ----------------------------------------------------------------------------------


class Suppression(models.Model):
    """Never contact this address (on one channel kind, or on every channel when blank). Keeps a
    SHA-256 hash of the normalised address, so it survives the erasure of the person."""

    class Reason(models.TextChoices):
        KEYWORD = "keyword", "Inbound STOP keyword"
        ADMIN = "admin", "Added by an admin"
        ERASURE = "erasure", "GDPR erasure"
        COMPLAINT = "complaint", "Complaint"
        BOUNCE = "bounce", "Hard bounce / invalid address"
        IMPORT = "import", "Import"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="suppressions")
    channel_kind = models.CharField(
        max_length=16, choices=ChannelKind.choices, blank=True, help_text="Empty: every channel."
    )
    address_kind = models.CharField(max_length=12, help_text="phone, email, whatsapp, messenger, push…")
    address_hash = models.CharField(max_length=64)
    address_hint = models.CharField(
        max_length=40, blank=True, help_text="Masked address for people to recognise; cleared by erasure."
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="suppressions"
    )
    reason = models.CharField(max_length=12, choices=Reason.choices)
    note = models.CharField(max_length=500, blank=True)
    created_by_label = models.CharField(max_length=150)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "channel_kind", "address_hash"], name="suppression_unique_address"
            )
        ]
        indexes = [models.Index(fields=["workspace", "address_hash"])]

    def __str__(self) -> str:
        return f"suppression #{self.pk} {self.channel_kind or 'all channels'}"


# --- ledgers the messaging layer feeds ------------------------------------------------------------


class SendRecord(models.Model):
    """One message a provider accepted (written by `send_recorded`); frequency caps count these."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    purpose = models.CharField(max_length=40)
    sent_at = models.DateTimeField()
    message_ref = models.CharField(max_length=120, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "message_ref"],
                condition=Q(message_ref__isnull=False),
                name="send_record_unique_message_ref",
            )
        ]
        indexes = [models.Index(fields=["contact", "purpose", "sent_at"])]

    def __str__(self) -> str:
        return f"{self.channel_kind}/{self.purpose} to {self.contact_id} at {self.sent_at:%Y-%m-%d %H:%M}"


class InboundRecord(models.Model):
    """The last inbound message per contact and channel kind (`inbound_recorded`): the WhatsApp
    24-hour customer service window starts there."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    last_inbound_at = models.DateTimeField()
    # the provider refused a free-form message as outside the window (WhatsApp 131047) although
    # the last inbound said it was open (an inbound we never saw, clocks): closed from then
    # until the contact's next message
    window_closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "channel_kind"], name="inbound_record_unique_channel")
        ]

    def __str__(self) -> str:
        return f"{self.channel_kind} from {self.contact_id} at {self.last_inbound_at:%Y-%m-%d %H:%M}"


# --- policy ---------------------------------------------------------------------------------------


class ConsentPolicy(models.Model):
    """Workspace-wide defaults. Absent until an admin first changes a policy: until then the
    built-in defaults apply (consent/defaults.py), and the first change writes them out."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="consent_policy")
    quiet_start = models.TimeField(default=dt.time(21, 0))
    quiet_end = models.TimeField(default=dt.time(8, 0))
    fuzzy_keywords = models.BooleanField(
        default=False,
        help_text="Also treat a keyword inside a longer message ('stop please') or with one typo as "
        "the keyword.",
    )
    # The HELP reply carries them (CTIA: brand or program name and a customer-care contact).
    brand_name = models.CharField(max_length=80, blank=True, help_text="Blank: the workspace's name.")
    support_contact = models.CharField(
        max_length=120, blank=True, help_text="A phone number, email or web address for help."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"consent policy of {self.workspace}"


class Purpose(models.Model):
    """A purpose of the workspace: a built-in one's settings, or a custom purpose."""

    class Rule(models.TextChoices):
        OPT_IN = "opt_in", "Needs explicit opt-in per channel"
        UNLESS_OPTED_OUT = "unless_opted_out", "Allowed on its lawful basis unless the contact opted out"

    class QuietHours(models.TextChoices):
        WORKSPACE = "workspace", "The workspace's quiet hours"
        CUSTOM = "custom", "Own quiet hours"
        NONE = "none", "None (time-critical)"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="consent_purposes")
    key = models.SlugField(max_length=40)
    label = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True)
    rule = models.CharField(max_length=20, choices=Rule.choices)
    default_basis = models.CharField(max_length=24, choices=LawfulBasis.choices)
    quiet_hours = models.CharField(max_length=10, choices=QuietHours.choices, default=QuietHours.WORKSPACE)
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    vulnerable_blocked = models.BooleanField(
        default=False, help_text="Automated messages of this purpose are not sent to vulnerable contacts."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="purpose_unique_key")]

    def __str__(self) -> str:
        return self.label or self.key


class FrequencyCap(models.Model):
    """At most `limit` messages of a purpose within `period_hours`, on one channel kind or on all
    channels together (blank)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="frequency_caps")
    purpose = models.CharField(max_length=40)
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices, blank=True)
    limit = models.PositiveIntegerField()
    period_hours = models.PositiveIntegerField()
    source = models.CharField(max_length=200, blank=True, help_text="Why this cap (rule or policy).")

    class Meta:
        ordering = ["purpose", "channel_kind"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "purpose", "channel_kind"], name="cap_unique_scope"),
            models.CheckConstraint(condition=Q(limit__gte=1), name="cap_limit_positive"),
            models.CheckConstraint(condition=Q(period_hours__gte=1), name="cap_period_positive"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.purpose} on {self.channel_kind or 'all channels'}: {self.limit} per {self.period_hours} h"
        )


class KeywordAction(models.TextChoices):
    STOP = "stop", "Stop (opt out)"
    START = "start", "Start (opt back in)"
    HELP = "help", "Help"


class Keyword(models.Model):
    """An inbound word and what it does. Language blank: every language."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="consent_keywords")
    word = models.CharField(max_length=40, help_text="Stored upper-case without accents.")
    language = models.CharField(max_length=8, blank=True)
    action = models.CharField(max_length=8, choices=KeywordAction.choices)

    class Meta:
        ordering = ["action", "language", "word"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "word", "language"], name="keyword_unique_word")
        ]

    def __str__(self) -> str:
        return self.word


class KeywordReply(models.Model):
    """The reply text for an action in a language (blank: the fallback)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="consent_replies")
    action = models.CharField(max_length=8, choices=KeywordAction.choices)
    language = models.CharField(max_length=8, blank=True)
    text = models.CharField(max_length=480)

    class Meta:
        ordering = ["action", "language"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "action", "language"], name="reply_unique_language")
        ]

    def __str__(self) -> str:
        return f"{self.action} reply ({self.language or 'default'})"


# --- CSV import -----------------------------------------------------------------------------------


class ConsentImport(models.Model):
    """One CSV of opt-ins and opt-outs with evidence columns; checked whole, then written whole."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Ready to check"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Checking rows"
        WRITING = "writing", "Writing events"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="consent_imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    filename = models.CharField(max_length=255)
    content = models.BinaryField()
    headers = models.JSONField(default=list)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    written_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{line, column, value, reason}]")
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Consent import {self.filename}"

    @property
    def is_running(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.RUNNING, self.Status.WRITING}

    @property
    def percent(self) -> int:
        if self.status == self.Status.COMPLETED:
            return 100
        if not self.total_rows:
            return 0
        return min(100, int(self.processed_rows * 100 / self.total_rows))


class KeywordReview(models.Model):
    """An inbound message that holds a STOP word but is not plainly a revocation ("cancel my
    order"): a person decides on the consent pages whether it opts the contact out."""

    class Decision(models.TextChoices):
        OPEN = "open", "To decide"
        OPTED_OUT = "opted_out", "Opted out"
        DISMISSED = "dismissed", "Not an opt-out"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    text = models.TextField()
    rule = models.CharField(max_length=200, blank=True, help_text="What the message held.")
    inbound_message_id = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField()
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.OPEN)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by_label = models.CharField(max_length=150, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "decision", "created_at"])]

    def __str__(self) -> str:
        return f"review {self.pk}: {self.text[:40]}"
