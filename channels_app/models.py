"""Configured senders (Channel), every message in and out (Message) with its status history,
the dispatcher's shared token buckets, the sandbox provider's own record of what it received,
and OTP verifications."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from consent.models import SentBy
from contacts.models import ChannelKind, Contact
from cpaas.models import Workspace

from . import crypto


def new_token() -> str:
    return secrets.token_urlsafe(18)


def new_reference() -> str:
    return "m" + secrets.token_hex(12)


class Channel(models.Model):
    """A configured sender: a kind, a provider, its credentials (encrypted) and an address."""

    Kind = ChannelKind

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="channels")
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    provider = models.CharField(max_length=32, default="sandbox")
    name = models.CharField(max_length=120)
    address = models.CharField(max_length=200, blank=True, help_text="Number, sender id or email.")
    credentials_encrypted = models.TextField(blank=True, editable=False)
    rate_limit_per_second = models.PositiveIntegerField(default=20)
    settings = models.JSONField(default=dict, blank=True, help_text="Provider options (non-secret).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    webhook_token = models.CharField(max_length=40, unique=True, default=new_token, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="channel_unique_name")]
        indexes = [models.Index(fields=["workspace", "kind", "status"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()}, {self.provider})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def credentials(self) -> dict:
        return crypto.decrypt_json(self.credentials_encrypted)

    def set_credentials(self, data: dict) -> None:
        self.credentials_encrypted = crypto.encrypt_json({k: v for k, v in data.items() if v})

    def masked_credentials(self) -> dict:
        try:
            return {k: crypto.mask(v) for k, v in self.credentials.items()}
        except crypto.CredentialsUnreadable:
            return {"error": "unreadable: enter the credentials again"}


class ChannelTemplate(models.Model):
    """A message template of the channel's provider account (a WhatsApp template) as the
    provider last told us: synced from the channel's page (`Provider.fetch_templates`) and kept
    up to date by its review-status webhooks, so pages and sends never wait on the network.
    Only `approved` ones are offered (node panel, inbox)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=20)
    category = models.CharField(max_length=20, blank=True)  # marketing, utility, authentication
    status = models.CharField(max_length=24)  # approved, pending, rejected, paused, disabled...
    body = models.TextField(blank=True)
    variables = models.JSONField(default=list, blank=True)  # [[key, label, example], ...]
    reason = models.CharField(max_length=300, blank=True, help_text="Why it was rejected or paused.")
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "name", "language"], name="channeltemplate_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language}, {self.status})"


class ChannelBucket(models.Model):
    """The channel's token bucket, one row shared by every dispatcher process: a claim takes
    tokens under a short row lock, so the rate holds across processes and machines."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, primary_key=True, related_name="bucket")
    tokens = models.FloatField(default=0)
    refilled_at = models.DateTimeField(null=True, blank=True)
    blocked_until = models.DateTimeField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return f"bucket of channel {self.channel_id}: {self.tokens:.1f}"


class Purpose(models.TextChoices):
    TRANSACTIONAL = "transactional", "Transactional"
    OTP = "otp", "One-time password"
    MARKETING = "marketing", "Marketing"
    COLLECTIONS = "collections", "Collections"


class Message(models.Model):
    class Direction(models.TextChoices):
        OUTBOUND = "out", "Outbound"
        INBOUND = "in", "Inbound"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        DEFERRED = "deferred", "Deferred"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        UNKNOWN = "unknown", "Outcome unknown"
        DELIVERED = "delivered", "Delivered"
        READ = "read", "Read"
        FAILED = "failed", "Failed"
        BLOCKED = "blocked", "Blocked"
        RECEIVED = "received", "Received"

    class Origin(models.TextChoices):
        JOURNEY = "journey", "Journey step"
        AGENT = "agent", "Agent"
        API = "api", "API"
        SYSTEM = "system", "System"
        OTP = "otp", "Verification"
        CONTACT = "contact", "Contact (inbound)"

    # Every version of a message row (queued, sending, sent...) is written into every index of
    # the table, so indexes are few and partial where most rows have nothing to index: the
    # workspace is the first column of message_ws_created, the self-references are mostly empty.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="messages")
    # RESTRICT: a channel with messages cannot be deleted on its own, but goes with its workspace
    channel = models.ForeignKey(Channel, on_delete=models.RESTRICT, related_name="messages")
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.OUTBOUND)
    address = models.CharField(max_length=200, help_text="The contact's address on this channel.")
    text = models.TextField(blank=True, help_text="The main text, for lists and search.")
    content = models.JSONField(default=dict, blank=True)
    content_notes = models.JSONField(default=list, blank=True, help_text="How content was adapted.")
    sealed = models.TextField(
        blank=True,
        default="",
        help_text="Secrets (an OTP code) that only the provider gets: encrypted replacements for "
        "their masks in the content, applied at the send and cleared once no longer needed "
        "(channels_app/sealing.py).",
    )
    purpose = models.CharField(max_length=32, default=Purpose.TRANSACTIONAL)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.API)
    origin_ref = models.CharField(max_length=120, blank=True, help_text="e.g. journey 4 / node otp")
    # Consent decides a person's reply differently from automation (vulnerable customers, quiet
    # hours), at queue time and again at hand-over.
    sent_by = models.CharField(max_length=10, choices=SentBy.choices, default=SentBy.AUTOMATION)
    # The journey that sent it (an id, not a foreign key: journeys sits above channels_app);
    # indexed with the status for the journey's "messages by status". Editor test runs leave it
    # empty, so they are never counted.
    journey_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    status_changed_at = models.DateTimeField()
    created_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True, help_text="When it may go (queued/deferred).")
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_reason = models.CharField(max_length=500, blank=True)
    reference = models.CharField(max_length=32, default=new_reference, editable=False)  # unique: Meta
    provider_message_id = models.CharField(max_length=100, null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    segments = models.PositiveSmallIntegerField(default=0)
    encoding = models.CharField(max_length=5, blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    cost_currency = models.CharField(max_length=3, blank=True)
    options = models.JSONField(default=dict, blank=True, help_text="Per-message provider options.")
    # consent decision at send time
    consent_outcome = models.CharField(max_length=8, blank=True)
    consent_rule = models.CharField(max_length=60, blank=True)
    consent_reason = models.CharField(max_length=500, blank=True)
    # dispatch
    attempts = models.PositiveSmallIntegerField(default=0)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    handoff_at = models.DateTimeField(
        null=True, blank=True, help_text="When the provider call began; set before every call."
    )
    # fallback chain: the kinds still to try, and after how long without a receipt
    fallback_chain = models.JSONField(default=list, blank=True)
    fallback_after_s = models.PositiveIntegerField(null=True, blank=True)
    fallback_deadline = models.DateTimeField(null=True, blank=True)
    fallback_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="fallback"
    )
    first_attempt = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # a constraint, not unique=True: no second varchar_pattern_ops index on PostgreSQL
            models.UniqueConstraint(fields=["reference"], name="message_unique_reference"),
            models.UniqueConstraint(
                fields=["channel", "provider_message_id"],
                condition=Q(provider_message_id__isnull=False),
                name="message_unique_provider_id",
            ),
            models.UniqueConstraint(
                fields=["workspace", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="message_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="queued"), name="message_queued_due"),
            models.Index(fields=["due_at"], condition=Q(status="deferred"), name="message_deferred_due"),
            models.Index(
                fields=["claimed_at"], condition=Q(status="sending"), name="message_sending_claimed"
            ),
            models.Index(
                fields=["fallback_deadline"],
                condition=Q(fallback_deadline__isnull=False),
                name="message_fallback_deadline",
            ),
            models.Index(fields=["workspace", "-created_at"], name="message_ws_created"),
            models.Index(fields=["workspace", "contact", "-created_at"], name="message_ws_contact"),
            models.Index(fields=["claim_token"], condition=Q(status="sending"), name="message_claim_token"),
            models.Index(
                fields=["first_attempt"],
                condition=Q(first_attempt__isnull=False),
                name="message_first_attempt",
            ),
            models.Index(fields=["reply_to"], condition=Q(reply_to__isnull=False), name="message_reply_to"),
            models.Index(
                fields=["journey_id", "status"],
                condition=Q(journey_id__isnull=False),
                name="message_journey_status",
            ),
            # experiments.results' guardrails: a journey's failed messages read from the index
            # alone (no visit to the rows), and the inbound messages (few next to the outbound)
            # without scanning the table; both partial, so they stay small.
            models.Index(
                fields=["journey_id", "workspace", "created_at", "contact"],
                condition=Q(status="failed", journey_id__isnull=False),
                name="message_journey_failed",
            ),
            models.Index(
                fields=["workspace", "created_at"],
                condition=Q(direction="in"),
                name="message_inbound_created",
            ),
        ]

    def __str__(self) -> str:
        arrow = "→" if self.direction == self.Direction.OUTBOUND else "←"
        return f"{self.get_kind_display()} {arrow} {self.address}: {self.text[:40]}"

    @property
    def is_outbound(self) -> bool:
        return self.direction == self.Direction.OUTBOUND


class MessageStatusEvent(models.Model):
    """Every status change of a message, and every receipt even when it changed nothing."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="status_events")
    status = models.CharField(max_length=10, choices=Message.Status.choices)
    at = models.DateTimeField()
    source = models.CharField(max_length=20, help_text="send, dispatcher, receipt, consent, system")
    applied = models.BooleanField(default=True, help_text="False: arrived late or out of order")
    error_code = models.CharField(max_length=40, blank=True)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["message", "at"])]

    def __str__(self) -> str:
        return f"{self.message_id} {self.status} at {self.at}"


class PendingReceipt(models.Model):
    """A receipt whose message could not be found yet: it came before the dispatcher recorded
    the send (so the provider's id is not on any message). Kept, and applied in the same
    transaction that records the send (or by the next sweep); never dropped."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    provider_message_id = models.CharField(max_length=100, blank=True)
    reference = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=10)
    at = models.DateTimeField(help_text="When the provider says it happened (else when it came).")
    received_at = models.DateTimeField()
    source = models.CharField(max_length=20)
    error_code = models.CharField(max_length=40, blank=True)
    error_reason = models.CharField(max_length=500, blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    cost_currency = models.CharField(max_length=3, blank=True)
    raw_status = models.CharField(max_length=40, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["channel", "provider_message_id"], name="pending_receipt_provider_id"),
            models.Index(fields=["reference"], name="pending_receipt_reference"),
        ]

    def __str__(self) -> str:
        return f"pending {self.status} receipt for {self.provider_message_id or self.reference}"


class SandboxDelivery(models.Model):
    """What the sandbox provider received, as a real provider would keep it on its side:
    one row per reference and channel (its idempotency), and the receipt it will send."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    reference = models.CharField(max_length=32)
    to_address = models.CharField(max_length=200)
    content = models.JSONField(default=dict)
    received_at = models.DateTimeField()
    receipt_status = models.CharField(max_length=10, blank=True, help_text="delivered, failed or empty")
    receipt_error = models.CharField(max_length=40, blank=True)
    receipt_due_at = models.DateTimeField(null=True, blank=True)
    receipt_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "reference"], name="sandbox_unique_reference")
        ]
        indexes = [
            models.Index(
                fields=["receipt_due_at"],
                condition=Q(receipt_sent_at__isnull=True, receipt_due_at__isnull=False),
                name="sandbox_receipt_due",
            )
        ]

    def __str__(self) -> str:
        return f"sandbox {self.reference} to {self.to_address}"


class Verification(models.Model):
    """One OTP verification (like Twilio Verify): the code is stored hashed, sent with purpose
    otp on the first channel of `channels`, then the next one on resend or when not delivered."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Too many attempts"
        CANCELED = "canceled", "Canceled"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="verifications")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="verifications")
    address = models.CharField(max_length=200, help_text="Phone (E.164) or email the code goes to.")
    channels = models.JSONField(default=list, help_text="Channel kinds in order")
    channel_index = models.PositiveSmallIntegerField(default=0)
    code_hash = models.CharField(max_length=100, help_text="salt$HMAC-SHA256 of the code")
    code_length = models.PositiveSmallIntegerField(default=6)
    locale = models.CharField(max_length=8, default="en")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    sends = models.PositiveSmallIntegerField(default=0)
    fallback_after_s = models.PositiveIntegerField(default=30)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True, help_text="The latest code's send (cooldown).")
    client_ip = models.GenericIPAddressField(
        null=True, blank=True, help_text="The end user's IP, as the caller gave it (per-IP limit)."
    )
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 region of a phone address.")
    prefix = models.CharField(
        max_length=16,
        blank=True,
        help_text="+country code and 4 digits of a phone address (per-prefix limit).",
    )
    last_message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "address", "-created_at"], name="verification_address"),
            models.Index(fields=["workspace", "-created_at"], name="verification_ws_created"),
            models.Index(fields=["workspace", "prefix", "-created_at"], name="verification_prefix"),
            models.Index(
                fields=["workspace", "client_ip", "-created_at"],
                condition=Q(client_ip__isnull=False),
                name="verification_client_ip",
            ),
        ]

    def __str__(self) -> str:
        return f"verification {self.pk} for {self.address} ({self.status})"


class VerifyPolicy(models.Model):
    """A workspace's defences against SMS pumping (channels_app/services/verify_policy.py).
    Absent until first changed: the defaults below apply, sized for a bank's sign-up day
    (5,500 sign-ups in 90 s is ~3,700 a minute) while keeping each number, IP and prefix small."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="verify_policy")
    countries = models.JSONField(
        default=list, blank=True, help_text="ISO 3166 codes phone verifications may go to; empty: all."
    )
    per_minute = models.PositiveIntegerField(
        default=6000, help_text="Verifications per minute, workspace-wide."
    )
    per_number = models.PositiveIntegerField(
        default=5, help_text="Verifications per number (address) per 10 min."
    )
    per_ip = models.PositiveIntegerField(default=50, help_text="Verifications per end-user IP per 10 min.")
    per_prefix = models.PositiveIntegerField(
        default=100, help_text="Verifications per destination prefix (+cc and 4 digits) per 10 min."
    )
    resend_cooldown_s = models.PositiveIntegerField(
        default=30, help_text="Seconds between two codes to the same number."
    )
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"verification policy of {self.workspace}"
