"""Log-in, the workspace switcher and Settings: workspace, users and roles, API tokens, audit log."""

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views import defaults
from django.views.decorators.http import require_POST

from . import lockout, services
from .api.middleware import api_error, is_api
from .audit import audit_fields
from .forms import ApiTokenForm, InvitationForm, MembershipForm, WorkspaceForm, apply_errors
from .models import ApiToken, AuditEntry, Invitation, Membership
from .tenancy import SESSION_KEY, Actor, workspace_required


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@require_POST
def logout_view(request):
    logout(request)
    return redirect("login")


@login_required
def no_workspace(request):
    return render(request, "cpaas/no_workspace.html", status=403)


@require_POST
@login_required
def workspace_switch(request):
    membership = get_object_or_404(
        Membership, user=request.user, is_active=True, workspace_id=request.POST.get("workspace")
    )
    request.session[SESSION_KEY] = membership.workspace_id
    messages.success(request, f"Switched to {membership.workspace.name}.")
    return redirect("home")


@workspace_required("settings.view")
def settings_home(request):
    return redirect("user_list")


@workspace_required("settings.view")
def workspace_edit(request):
    form = WorkspaceForm(request.POST or None, instance=request.workspace)
    if request.method == "POST" and form.is_valid():
        try:
            services.workspace_update(
                workspace=request.workspace, actor=Actor.from_request(request), data=form.cleaned_data
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Workspace settings saved.")
            return redirect("workspace_edit")
    return render(request, "cpaas/workspace_edit.html", {"form": form, "section": "workspace"})


@workspace_required("users.manage")
def user_list(request):
    return render(request, "cpaas/user_list.html", _users_context(request, InvitationForm()))


def _users_context(request, form, **extra) -> dict:
    memberships = list(
        Membership.objects.filter(workspace=request.workspace)
        .select_related("user")
        .order_by("user__username")
    )
    locked = lockout.locked_usernames(m.user.username for m in memberships)
    for m in memberships:
        m.locked_out = m.user.username in locked
    now = timezone.now()
    pending = Invitation.objects.filter(
        workspace=request.workspace, accepted_at=None, revoked_at=None, expires_at__gt=now
    ).select_related("invited_by")
    return {"memberships": memberships, "invitations": pending, "form": form, "section": "users", **extra}


@workspace_required("users.manage")
def invitation_create(request):
    """Invite by email. The answer is the same whether or not the address has an account."""
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, token = services.invitation_create(
                workspace=request.workspace,
                actor=Actor.from_request(request),
                now=timezone.now(),
                **form.cleaned_data,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            link = request.build_absolute_uri(reverse("invitation_accept", args=[token]))
            services.invitation_email_send(invitation=invitation, link=link)
            context = _users_context(request, InvitationForm(), new_invitation=invitation, new_link=link)
            return render(request, "cpaas/user_list.html", context)
    return render(
        request,
        "cpaas/user_list.html",
        _users_context(request, form),
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@workspace_required("users.manage")
def invitation_revoke(request, pk):
    invitation = get_object_or_404(Invitation, workspace=request.workspace, pk=pk)
    try:
        services.invitation_revoke(
            invitation=invitation, actor=Actor.from_request(request), now=timezone.now()
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, f"The invitation of {invitation.email} is revoked; its link no longer works."
        )
    return redirect("user_list")


@require_POST
@workspace_required("users.manage")
def membership_unlock(request, pk):
    membership = get_object_or_404(
        Membership.objects.select_related("user"), workspace=request.workspace, pk=pk
    )
    services.member_unlock(membership=membership, actor=Actor.from_request(request))
    messages.success(request, f"{membership.user.username} can log in again.")
    return redirect("user_list")


@workspace_required("users.manage")
def membership_edit(request, pk):
    membership = get_object_or_404(
        Membership.objects.select_related("user"), workspace=request.workspace, pk=pk
    )
    form = MembershipForm(
        request.POST or None, initial={"role": membership.role, "is_active": membership.is_active}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_update(
                membership=membership, actor=Actor.from_request(request), **form.cleaned_data
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{membership.user.username} updated.")
            return redirect("user_list")
    return render(
        request, "cpaas/membership_edit.html", {"membership": membership, "form": form, "section": "users"}
    )


@workspace_required("tokens.manage")
def token_list(request):
    form = ApiTokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_key = services.api_token_create(
                workspace=request.workspace, actor=Actor.from_request(request), **form.cleaned_data
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            form = ApiTokenForm()
    tokens = ApiToken.objects.filter(workspace=request.workspace).select_related("created_by")
    return render(
        request,
        "cpaas/token_list.html",
        {"tokens": tokens, "form": form, "new_key": new_key, "section": "tokens"},
    )


@require_POST
@workspace_required("tokens.manage")
def token_revoke(request, pk):
    token = get_object_or_404(ApiToken, workspace=request.workspace, pk=pk)
    services.api_token_revoke(token=token, actor=Actor.from_request(request))
    messages.success(request, f"Token '{token.name}' revoked; requests with it now get 401.")
    return redirect("token_list")


@workspace_required("audit.view")
def audit_list(request):
    entries = AuditEntry.objects.filter(workspace=request.workspace).select_related(
        "actor_user", "actor_token"
    )
    action = request.GET.get("action", "").strip()
    actor = request.GET.get("actor", "").strip()
    target = request.GET.get("target", "").strip()
    if action:
        entries = entries.filter(action__startswith=action)
    if actor:
        entries = entries.filter(actor_label__icontains=actor)
    if target:
        entries = entries.filter(target_label__icontains=target)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    for entry in page:
        entry.fields = audit_fields(entry.data)
    actions = (
        AuditEntry.objects.filter(workspace=request.workspace)
        .values_list("action", flat=True)
        .distinct()
        .order_by("action")
    )
    context = {
        "page": page,
        "actions": actions,
        "filters": {"action": action, "actor": actor, "target": target},
        "section": "audit",
    }
    template = "cpaas/audit_list.html#results" if request.htmx else "cpaas/audit_list.html"
    return TemplateResponse(request, template, context)


def bad_request(request, exception=None):
    if is_api(request):
        return api_error(request, 400, exception)
    return defaults.bad_request(request, exception)


def server_error(request):
    if is_api(request):
        return api_error(request, 500)
    return defaults.server_error(request)


def not_found(request, exception=None):
    if is_api(request):
        return api_error(request, 404, exception)
    return render(
        request,
        "cpaas/error.html",
        {
            "code": 404,
            "title": "Not found",
            "message": "There is nothing here, or it belongs to another workspace.",
        },
        status=404,
    )


def forbidden(request, exception=None):
    if is_api(request):
        return api_error(request, 403, exception)
    return render(
        request,
        "cpaas/error.html",
        {
            "code": 403,
            "title": "Not allowed",
            "message": str(exception) if exception else "Your role does not allow this.",
        },
        status=403,
    )
