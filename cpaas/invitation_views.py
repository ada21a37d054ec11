"""The page an invitation link opens: a logged-in person accepts; someone without an account
chooses a user name and password; a used, revoked or expired link says so."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone

from . import services
from .forms import InvitationSignupForm, apply_errors
from .tenancy import SESSION_KEY


def invitation_accept(request, token):
    now = timezone.now()
    invitation = services.invitation_by_token(token, now=now)
    if invitation is None:
        return render(
            request, "cpaas/invitation_gone.html", {"message": services.INVITATION_GONE}, status=404
        )
    form = InvitationSignupForm(request.POST or None) if not request.user.is_authenticated else None
    error = None
    if request.method == "POST":
        try:
            if request.user.is_authenticated:
                membership = services.invitation_accept(token=token, user=request.user, now=now)
            elif form.is_valid():
                membership = services.invitation_accept_as_new_user(
                    token=token,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                    now=now,
                )
                # the backend is named: with django-axes first, login() cannot guess it
                login(request, membership.user, backend=settings.AUTHENTICATION_BACKENDS[-1])
            else:
                membership = None
        except ValidationError as exc:
            if form is not None and hasattr(exc, "error_dict"):
                apply_errors(form, exc)
            else:
                error = " ".join(exc.messages)
            membership = None
        if membership is not None:
            request.session[SESSION_KEY] = membership.workspace_id
            messages.success(
                request,
                f"Welcome to {membership.workspace.name}: you joined as {membership.get_role_display()}.",
            )
            return redirect("home")
    return render(
        request,
        "cpaas/invitation_accept.html",
        {"invitation": invitation, "form": form, "error": error},
        status=400 if request.method == "POST" else 200,
    )
