"""The active workspace of a request. Every view reads `request.workspace` and scopes its
queries to it; a row of another workspace is simply not found (404)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from .models import ApiToken, Membership, Workspace
from .roles import role_allows

SESSION_KEY = "workspace_id"


def active_membership(request) -> Membership | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    memberships = Membership.objects.filter(
        user=user, is_active=True, workspace__isnull=False
    ).select_related("workspace")
    wanted = request.session.get(SESSION_KEY)
    membership = None
    if wanted:
        membership = memberships.filter(workspace_id=wanted).first()
    if membership is None:
        membership = memberships.order_by("created_at", "pk").first()  # the first workspace joined
        if membership is not None:
            request.session[SESSION_KEY] = membership.workspace_id
    return membership


class WorkspaceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        membership = active_membership(request)
        request.membership = membership
        request.workspace = membership.workspace if membership else None
        request.role = membership.role if membership else None
        return self.get_response(request)


def workspace_context(request):
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    others = (
        Membership.objects.filter(user=request.user, is_active=True)
        .select_related("workspace")
        .order_by("workspace__name")
    )
    section = request.path.strip("/").split("/")[0]
    return {
        "nav": section,
        "workspace": membership.workspace,
        "role": membership.role,
        "memberships": others,
        "can": PermissionChecker(membership.role),
    }


class PermissionChecker:
    """Lets templates ask `{% if can.contacts_edit %}` (dots are not allowed in lookups)."""

    def __init__(self, role: str):
        self.role = role

    def __getattr__(self, name: str) -> bool:
        return role_allows(self.role, name.replace("_", ".", 1))


def workspace_required(permission: str | None = None):
    """Decorator for views: logged in, a member of an active workspace, and (optionally) a role
    that grants `permission`, else 403."""

    def decorator(view):
        @login_required
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.workspace is None:
                return redirect("no_workspace")
            if permission and not role_allows(request.role, permission):
                raise PermissionDenied(f"Your role ({request.role}) does not allow {permission}.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


@dataclass(frozen=True)
class Actor:
    """Who causes a change: a user, an API token, or the system (worker, import, keyword)."""

    kind: str  # "user" | "token" | "system"
    user: object | None = None
    token: ApiToken | None = None
    label: str = ""

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(kind="system", label=label)

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(kind="user", user=user, label=user.get_username())

    @classmethod
    def for_token(cls, token: ApiToken) -> Actor:
        return cls(kind="token", token=token, label=f"API token {token.name}")

    @classmethod
    def from_request(cls, request) -> Actor:
        token = getattr(request, "auth", None)
        if isinstance(token, ApiToken):
            return cls.for_token(token)
        return cls.for_user(request.user)

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "user_id": getattr(self.user, "pk", None),
            "token_id": getattr(self.token, "pk", None),
            "label": self.label,
        }

    @classmethod
    def from_json(cls, data: dict) -> Actor:
        from django.contrib.auth import get_user_model

        user = (
            get_user_model().objects.filter(pk=data.get("user_id")).first() if data.get("user_id") else None
        )
        token = ApiToken.objects.filter(pk=data.get("token_id")).first() if data.get("token_id") else None
        return cls(kind=data["kind"], user=user, token=token, label=data.get("label", ""))


def workspaces_of(user) -> list[Workspace]:
    return [
        m.workspace for m in Membership.objects.filter(user=user, is_active=True).select_related("workspace")
    ]
