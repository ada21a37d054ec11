"""Contacts, their typed attributes and tags, saved segments, the contact event stream and
CSV imports."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from cpaas.models import Workspace, validate_timezone


class ChannelKind(models.TextChoices):
    """Channel kinds a contact can prefer (channels_app configures senders for them)."""

    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    RCS = "rcs", "RCS"
    VOICE = "voice", "Voice"
    EMAIL = "email", "Email"
    VIBER = "viber", "Viber"
    MESSENGER = "messenger", "Messenger"
    PUSH = "push", "Push"


# Addresses a contact can have besides phone and email, per channel kind.
ADDRESS_KINDS = ("whatsapp", "viber", "messenger", "push", "rcs")


class Tag(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="tag_unique_name")]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="contacts")
    external_id = models.CharField(max_length=120, null=True, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=20, null=True, blank=True, help_text="E.164, e.g. +447700900123")
    email = models.EmailField(blank=True)
    language = models.CharField(max_length=8, blank=True, help_text="ISO 639-1, e.g. en")
    timezone = models.CharField(max_length=64, blank=True, validators=[validate_timezone])
    preferred_channel = models.CharField(max_length=16, choices=ChannelKind.choices, blank=True)
    addresses = models.JSONField(
        default=dict, blank=True, help_text="Per channel kind: WhatsApp id, Messenger id…"
    )
    attributes = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    is_vulnerable = models.BooleanField(default=False)
    vulnerability_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=Q(external_id__isnull=False),
                name="contact_unique_external_id",
            ),
            models.UniqueConstraint(
                fields=["workspace", "phone"], condition=Q(phone__isnull=False), name="contact_unique_phone"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "email"]),
            models.Index(fields=["workspace", "-created_at"]),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def display_name(self) -> str:
        return self.full_name or self.phone or self.email or self.external_id or f"Contact #{self.pk}"

    def effective_timezone(self) -> str:
        return self.timezone or self.workspace.timezone


class AttributeDefinition(models.Model):
    """The workspace's schema for custom contact attributes."""

    class Type(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        BOOLEAN = "boolean", "Yes / no"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="attribute_definitions")
    key = models.SlugField(max_length=60, help_text="Used in merge fields: {{contact.key}}")
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=8, choices=Type.choices, default=Type.TEXT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="attribute_unique_key")]

    def __str__(self) -> str:
        return self.label or self.key


class Segment(models.Model):
    """A saved filter. `definition` = {"match": "all"|"any", "rules": [...]}; see segments.py."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    definition = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="segment_unique_name")]

    def __str__(self) -> str:
        return self.name


class Event(models.Model):
    """Something that happened to a contact: an API event, a reply, a payment... Apps above
    subscribe to these through cpaas.bus."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="events")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=100)
    properties = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=20, default="api")
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="event_unique_idempotency_key",
            )
        ]
        indexes = [
            models.Index(fields=["contact", "-occurred_at"]),
            models.Index(fields=["workspace", "name", "-occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} for contact {self.contact_id}"


class ContactImport(models.Model):
    """One CSV upload: kept whole in the database so any worker machine can read it."""

    class Status(models.TextChoices):
        UPLOADED = "uploaded", "Waiting for column mapping"
        QUEUED = "queued", "Queued"
        VALIDATING = "validating", "Checking rows"
        WRITING = "writing", "Writing contacts"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="contact_imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    filename = models.CharField(max_length=255)
    content = models.BinaryField()
    encoding = models.CharField(max_length=20, default="utf-8")
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict, help_text="CSV column -> contact field")
    skip_invalid_rows = models.BooleanField(default=False)
    tag_names = models.JSONField(default=list, blank=True, help_text="Tags added to every imported contact")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="[{line, column, value, reason}], first 1000"
    )
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import {self.filename}"

    @property
    def is_running(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.VALIDATING, self.Status.WRITING}

    @property
    def percent(self) -> int:
        if self.status == self.Status.COMPLETED:
            return 100
        if not self.total_rows:
            return 0
        return min(100, int(self.processed_rows * 100 / self.total_rows))
