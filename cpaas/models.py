"""What every app shares: workspaces and who belongs to them, API tokens, the audit log and
the realtime relay's event rows."""

import hashlib
import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not an IANA time zone (for example Europe/London).")


class Workspace(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    default_country = models.CharField(
        max_length=2,
        default="GB",
        help_text="Region used to read phone numbers written without +country code.",
    )
    default_language = models.CharField(max_length=8, default="en")
    contacts_open_to_agents = models.BooleanField(
        default=False,
        help_text="Agents may open any contact; when off, they reach a contact only through an inbox conversation.",
    )
    # Retention (cpaas/retention.py): rows older than this many days are deleted by the worker;
    # blank keeps them. Not defaulted: an upgrade must never start deleting a bank's records.
    retention_messages_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(30), MaxValueValidator(3650)],
        verbose_name="Keep messages for (days)",
        help_text="Messages in both directions with their delivery history. Blank keeps them.",
    )  # fmt: skip
    retention_steps_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(30), MaxValueValidator(3650)],
        verbose_name="Keep journey steps for (days)",
        help_text="Each contact's path through a journey, node by node. Counts on the canvas stay.",
    )  # fmt: skip
    retention_events_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(30), MaxValueValidator(3650)],
        verbose_name="Keep contact events for (days)",
        help_text="Events sent through the API, replies and call outcomes, by when they happened.",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MARKETER = "marketer", "Marketer"
    AGENT = "agent", "Agent"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    Role = Role

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user")]
        ordering = ["workspace__name"]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} as {self.role}"


class ApiToken(models.Model):
    """A workspace's credential for the REST API. Only a hash is stored; the key is shown once."""

    PREFIX = "cpk_"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=120)
    key_prefix = models.CharField(max_length=16, help_text="First characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    rate_limit_per_minute = models.PositiveIntegerField(default=1200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def generate_key() -> str:
        return ApiToken.PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def hash_key(key: str) -> str:
        # The key carries 256 bits of entropy, so a fast hash is enough (no brute force possible).
        return hashlib.sha256(key.encode()).hexdigest()


class Invitation(models.Model):
    """An offer to join a workspace with a role, sent to an email address. The link carries a
    random token of which only a hash is stored; it works once, until `expires_at`, unless
    revoked. Whoever opens it either logs in and accepts, or creates an account."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "email"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(accepted_at__isnull=True) | models.Q(revoked_at__isnull=True),
                name="invitation_accepted_or_revoked_not_both",
            )
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.workspace} as {self.role}"

    def status_at(self, now) -> str:
        if self.accepted_at:
            return self.Status.ACCEPTED
        if self.revoked_at:
            return self.Status.REVOKED
        return self.Status.EXPIRED if now >= self.expires_at else self.Status.PENDING

    @staticmethod
    def hash_token(token: str) -> str:
        # 256 random bits: a fast hash is enough (as for API keys)
        return hashlib.sha256(token.encode()).hexdigest()


class AuditEntry(models.Model):
    """Who did what to which object; written by services in the same transaction."""

    class ActorType(models.TextChoices):
        USER = "user", "User"
        TOKEN = "token", "API token"
        SYSTEM = "system", "System"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audit_entries")
    actor_type = models.CharField(max_length=8, choices=ActorType.choices)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=80, help_text="Dotted code, e.g. contacts.contact.created")
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "action"]),
            models.Index(fields=["workspace", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.target_label}"


class RealtimeEvent(models.Model):
    """Outbox row for the embedded realtime relay: written in the publisher's transaction, read
    by every web process past its cursor and handed to its in-memory channel layer."""

    group = models.CharField(max_length=100)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.group} #{self.pk}"


class Heartbeat(models.Model):
    """One row per running background process (dispatcher, engine, task worker), touched every
    few seconds by its loop: a health check reads which processes are alive and when each last
    managed to reach the database. Written by `cpaas.loops.Heartbeat`; a process removes its row
    when it stops cleanly, so a stale `beat_at` means a process that died or hangs."""

    kind = models.CharField(max_length=32)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)
    # database incidents this process survived, and the last one's one-line description
    incidents = models.PositiveIntegerField(default=0)
    last_incident = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "host", "pid"], name="heartbeat_unique_process")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.host}:{self.pid}"
