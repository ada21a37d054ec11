"""Writes for workspaces, memberships, invitations and API tokens."""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from cpaas.locks import lock_refresh

from .audit import audit_record
from .models import ApiToken, Invitation, Membership, Role, Workspace
from .tenancy import Actor

User = get_user_model()
log = logging.getLogger("cpaas")


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
def invitation_create(
    *, workspace: Workspace, actor: Actor, email: str, role: str, now
) -> tuple[Invitation, str]:
    """Invite an email address to the workspace with a role; (invitation, the token for the link,
    which is not stored). A pending invitation of the same address is replaced. Nothing here
    depends on whether the address belongs to an account, so the answer reveals nothing."""
    if role not in Role.values:
        raise ValidationError({"role": [f"Unknown role '{role}'."]})
    email = User.objects.normalize_email(email.strip())
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": ["Enter a valid email address."]}) from None
    for old in Invitation.objects.select_for_update().filter(
        workspace=workspace, email__iexact=email, accepted_at=None, revoked_at=None, expires_at__gt=now
    ):
        _invitation_revoke(old, actor, now, reason="replaced")
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=email,
        role=role,
        token_hash=Invitation.hash_token(token),
        invited_by=actor.user if actor.kind == "user" else None,
        created_at=now,
        expires_at=now + dt.timedelta(days=settings.INVITATION_VALID_DAYS),
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="cpaas.invitation.created",
        target=invitation,
        data={"email": email, "role": role},
        at=now,
    )
    return invitation, token


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: Actor, now) -> Invitation:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status_at(now) != Invitation.Status.PENDING:
        raise ValidationError(
            f"This invitation is {invitation.status_at(now)}; only a pending one can be revoked."
        )
    _invitation_revoke(invitation, actor, now, reason="revoked")
    return invitation


def _invitation_revoke(invitation: Invitation, actor: Actor, now, *, reason: str) -> None:
    invitation.revoked_at = now
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        workspace=invitation.workspace,
        actor=actor,
        action="cpaas.invitation.revoked",
        target=invitation,
        data={"reason": reason},
        at=now,
    )


def invitation_by_token(token: str, *, now) -> Invitation | None:
    """The pending invitation this link's token opens, or None (unknown, used, revoked, expired)."""
    invitation = (
        Invitation.objects.select_related("workspace").filter(token_hash=Invitation.hash_token(token)).first()
    )
    if invitation is None or invitation.status_at(now) != Invitation.Status.PENDING:
        return None
    return invitation


INVITATION_GONE = "This invitation link is not valid: it was used, revoked or has expired."


@transaction.atomic
def invitation_accept(*, token: str, user, now) -> Membership:
    """The logged-in `user` accepts: they join with the invitation's role (a deactivated
    membership is reactivated). The link works once."""
    invitation = (
        Invitation.objects.select_for_update().filter(token_hash=Invitation.hash_token(token)).first()
    )
    if invitation is None or invitation.status_at(now) != Invitation.Status.PENDING:
        raise ValidationError(INVITATION_GONE)
    membership = Membership.objects.filter(workspace=invitation.workspace, user=user).first()
    if membership is not None and membership.is_active:
        raise ValidationError(f"You are already a member of {invitation.workspace.name}.")
    if membership is None:
        membership = Membership.objects.create(
            workspace=invitation.workspace, user=user, role=invitation.role
        )
    else:
        membership.role, membership.is_active = invitation.role, True
        membership.save(update_fields=["role", "is_active"])
    invitation.accepted_at, invitation.accepted_by = now, user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        workspace=invitation.workspace,
        actor=Actor.for_user(user),
        action="cpaas.invitation.accepted",
        target=membership,
        data={"invitation_id": invitation.pk, "email": invitation.email, "role": invitation.role},
        at=now,
    )
    return membership


@transaction.atomic
def invitation_accept_as_new_user(*, token: str, username: str, password: str, now) -> Membership:
    """Someone without an account accepts: the account is created with the invitation's email
    and the user name and password they chose, then joins."""
    if invitation_by_token(token, now=now) is None:
        raise ValidationError(INVITATION_GONE)
    invitation = Invitation.objects.get(token_hash=Invitation.hash_token(token))
    username = username.strip()
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": ["This user name is taken; choose another."]})
    candidate = User(username=username, email=invitation.email)
    try:
        validate_password(password, candidate)
    except ValidationError as exc:
        raise ValidationError({"password1": exc.messages}) from None
    user = User.objects.create_user(username=username, email=invitation.email, password=password)
    return invitation_accept(token=token, user=user, now=now)


def invitation_email_send(*, invitation: Invitation, link: str) -> None:
    """Mail the link to the invited address after the invitation committed; a mail server that
    fails is logged (the admin also sees the link once, to pass it on another way)."""

    def send():
        try:
            send_mail(
                subject=f"You are invited to {invitation.workspace.name}",
                message=render_to_string(
                    "cpaas/invitation_email.txt", {"invitation": invitation, "link": link}
                ),
                from_email=None,
                recipient_list=[invitation.email],
            )
        except Exception:  # noqa: BLE001 - any mail transport error; the invitation stands
            log.exception("invitation %s: the email could not be sent", invitation.pk)

    transaction.on_commit(send)


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
