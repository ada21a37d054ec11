"""Writes for workspaces, memberships and API tokens."""

from __future__ import annotations

from axes.utils import reset as axes_reset
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from cpaas.locks import lock_refresh

from .audit import audit_record
from .models import ApiToken, Membership, Role, Workspace
from .tenancy import Actor

User = get_user_model()


@transaction.atomic
def workspace_create(*, name: str, actor: Actor, owner=None, timezone_name: str = "UTC", country: str = "GB"):
    base = slugify(name)[:50] or "workspace"
    slug, n = base, 1
    while Workspace.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    workspace = Workspace(name=name, slug=slug, timezone=timezone_name, default_country=country)
    workspace.full_clean()
    workspace.save()
    if owner is not None:
        Membership.objects.create(workspace=workspace, user=owner, role=Role.ADMIN)
    audit_record(workspace=workspace, actor=actor, action="cpaas.workspace.created", target=workspace)
    return workspace


@transaction.atomic
def workspace_update(*, workspace: Workspace, actor: Actor, data: dict) -> Workspace:
    for field in ("name", "timezone", "default_country", "default_language"):
        if field in data:
            setattr(workspace, field, data[field])
    workspace.full_clean()
    workspace.save()
    audit_record(
        workspace=workspace, actor=actor, action="cpaas.workspace.updated", target=workspace, data=data
    )
    return workspace


@transaction.atomic
def member_add(
    *, workspace: Workspace, actor: Actor, username: str, email: str, role: str, password: str | None = None
) -> Membership:
    """Add a user (created if new) to the workspace with a role."""
    if role not in Role.values:
        raise ValidationError({"role": [f"Unknown role '{role}'."]})
    username = username.strip()
    user = User.objects.filter(username=username).first()
    if user is None:
        if not password:
            raise ValidationError({"password": ["A new user needs a password."]})
        candidate = User(username=username, email=email)
        try:
            validate_password(password, candidate)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from None
        user = User.objects.create_user(username=username, email=email, password=password)
    elif Membership.objects.filter(workspace=workspace, user=user).exists():
        raise ValidationError({"username": [f"{username} is already a member of this workspace."]})
    membership = Membership.objects.create(workspace=workspace, user=user, role=role)
    audit_record(
        workspace=workspace,
        actor=actor,
        action="cpaas.membership.created",
        target=membership,
        data={"role": role},
    )
    return membership


@transaction.atomic
def member_unlock(*, membership: Membership, actor: Actor) -> int:
    """Lift a log-in lockout of a member (every address's failed attempts for their user name
    are forgotten); how many attempt records were removed."""
    removed = axes_reset(username=membership.user.username)
    audit_record(
        workspace=membership.workspace,
        actor=actor,
        action="cpaas.membership.unlocked",
        target=membership,
        data={"attempt_records_removed": removed},
    )
    return removed


def _ensure_an_admin_remains(membership: Membership, new_role: str, active: bool) -> None:
    if membership.role == Role.ADMIN and (new_role != Role.ADMIN or not active):
        others = Membership.objects.filter(
            workspace=membership.workspace, role=Role.ADMIN, is_active=True
        ).exclude(pk=membership.pk)
        if not others.exists():
            raise ValidationError({"role": ["A workspace needs at least one active admin."]})


@transaction.atomic
def membership_update(*, membership: Membership, actor: Actor, role: str, is_active: bool) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": [f"Unknown role '{role}'."]})
    membership = lock_refresh(membership)
    _ensure_an_admin_remains(membership, role, is_active)
    before = {"role": membership.role, "is_active": membership.is_active}
    membership.role, membership.is_active = role, is_active
    membership.save(update_fields=["role", "is_active"])
    action = (
        "cpaas.membership.deactivated"
        if before["is_active"] and not is_active
        else "cpaas.membership.updated"
    )
    audit_record(
        workspace=membership.workspace,
        actor=actor,
        action=action,
        target=membership,
        data={"before": before, "after": {"role": role, "is_active": is_active}},
    )
    return membership


@transaction.atomic
def api_token_create(
    *, workspace: Workspace, actor: Actor, name: str, rate_limit_per_minute: int = 1200
) -> tuple[ApiToken, str]:
    """Returns the token and its key. The key is not stored and cannot be shown again."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["Name the token after the system that will use it."]})
    if not 1 <= int(rate_limit_per_minute) <= 100_000:
        raise ValidationError({"rate_limit_per_minute": ["Between 1 and 100000 requests per minute."]})
    key = ApiToken.generate_key()
    token = ApiToken.objects.create(
        workspace=workspace,
        name=name,
        key_prefix=key[:12],
        key_hash=ApiToken.hash_key(key),
        rate_limit_per_minute=rate_limit_per_minute,
        created_by=actor.user if actor.kind == "user" else None,
    )
    audit_record(workspace=workspace, actor=actor, action="cpaas.api_token.created", target=token)
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: Actor, now=None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = now or timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(workspace=token.workspace, actor=actor, action="cpaas.api_token.revoked", target=token)
    return token
