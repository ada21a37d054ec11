"""An agent's availability from the inbox page: online (auto-assignment gives them work),
away or offline. Opening the inbox also counts as activity (`agent_seen`): an agent made away by
idle time is online again."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from cpaas.tenancy import Actor, workspace_required

from . import services
from .models import AgentStatus


def availability_context(request) -> dict:
    """The inbox page's availability control, for people who may reply (they take work)."""
    from cpaas.roles import role_allows

    if not role_allows(request.role, "inbox.reply"):
        return {}
    status = services.agent_seen(workspace=request.workspace, user=request.user)
    return {"availability": status.availability, "availabilities": AgentStatus.Availability.choices}


@require_POST
@workspace_required("inbox.reply")
def availability_set(request):
    try:
        services.agent_status_set(
            actor=Actor.for_user(request.user),
            workspace=request.workspace,
            user=request.user,
            availability=request.POST.get("availability", ""),
        )
    except ValidationError as exc:
        flash.error(request, " ".join(exc.messages))
    back = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = ""
    return redirect(back or "inbox")
