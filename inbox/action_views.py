"""The thread's actions (docs/inbox.md "Acting on a conversation"): a private note with
@mentions, transfer to an agent or queue with a note, status (open / pending / snoozed until),
priority, and hand the contact back to the journey. Each is a small form in the thread header or
the composer (templates/inbox/_actions.html) that calls the one service for it
(inbox.services); this module only reads the form and shows the service's refusal next to the
field. Success says so in a toast; the service's live event refreshes every open page (this
one too), and inbox.js fetches the changes at once after its own action."""

from __future__ import annotations

import zoneinfo

from django.contrib import messages as flash
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from cpaas.models import Membership
from cpaas.roles import role_allows
from cpaas.tenancy import Actor, workspace_required

from . import selectors, services
from .models import Conversation, Priority, Queue
from .views import _conversation

ACTIONS = "inbox/_actions.html"
STATUSES = [c for c in Conversation.Status.choices if c[0] != Conversation.Status.RESOLVED]
# the service's field names → the form's (the agent picks "to"; the service says "assignee")
FIELD_ALIASES = {"assignee": "to"}


def agents(workspace) -> list:
    """The workspace's active members whose role may reply: who a conversation can go to."""
    rows = Membership.objects.filter(workspace=workspace, is_active=True).select_related("user")
    users = [m.user for m in rows if role_allows(m.role, "inbox.reply")]
    return sorted(users, key=lambda u: u.get_username())


def actions_context(request, conversation: Conversation, **extra) -> dict:
    """What the header's and composer's action forms need (the page, `changes` and a refusal)."""
    return {
        "conversation": conversation,
        "can_reply": role_allows(request.role, "inbox.reply"),
        "can_assign": role_allows(request.role, "inbox.assign"),
        "transfer_queues": Queue.objects.filter(workspace=request.workspace).order_by("label", "name"),
        "transfer_agents": agents(request.workspace),
        "statuses": STATUSES,
        "priorities": Priority.choices,
        "returnable": services.waiting_enrollment(conversation) is not None,
        "workspace_tz": request.workspace.timezone,
        "errors": {},
        "values": {},
        **extra,
    }


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    if not hasattr(exc, "error_dict"):
        return {"__all__": exc.messages}
    return {FIELD_ALIASES.get(k, k): v for k, v in exc.message_dict.items()}


def _refused(request, found: Conversation, form: str, exc: ValidationError):
    """The form again with the service's words next to the field (htmx swaps it in place)."""
    if not request.htmx:
        return HttpResponse(" ".join(exc.messages), status=400, content_type="text/plain")
    context = actions_context(request, found, errors=_errors(exc), values=request.POST)
    response = TemplateResponse(request, f"{ACTIONS}#{form}", context)
    response["HX-Retarget"] = f"#{form.replace('_', '-')}"
    response["HX-Reswap"] = "outerHTML"
    return response


def _done(request, found: Conversation, text: str):
    if not request.htmx:
        flash.success(request, text)
        return redirect("inbox_conversation", number=found.number)
    response = trigger_client_event(HttpResponse(status=204), "toast", {"text": text, "level": "success"})
    return trigger_client_event(response, "inbox:acted", {"number": found.number})


@require_POST
@workspace_required("inbox.reply")
def note(request, number: int):
    """A private note; `@username` tells that agent (services.note_add)."""
    found = _conversation(request, number)
    try:
        entry = services.note_add(
            actor=Actor.from_request(request), conversation=found, body=request.POST.get("body", "")
        )
    except ValidationError as exc:
        return _refused(request, found, "note_form", exc)
    if not request.htmx:
        flash.success(request, "Note added.")
        return redirect("inbox_conversation", number=found.number)
    item = selectors.Item(entry.created_at, entry.kind, entry=entry, author=request.user)
    response = TemplateResponse(request, "inbox/_item.html", {"item": item})
    return trigger_client_event(response, "inbox:noted", {"number": found.number})


def _pick(model_qs, raw: str, field: str, message: str):
    if raw in ("", None):
        return None
    found = model_qs.filter(pk=int(raw)).first() if raw.isdigit() else None
    if found is None:
        raise ValidationError({field: [message]})
    return found


@require_POST
@workspace_required("inbox.assign")
def transfer(request, number: int):
    """To another agent and/or queue, with a note for them (services.conversation_transfer)."""
    found = _conversation(request, number)
    try:
        queue = _pick(
            Queue.objects.filter(workspace=request.workspace),
            request.POST.get("queue", ""),
            "queue",
            "No such queue in this workspace.",
        )
        if queue is not None and queue.pk == found.queue_id:
            queue = None  # staying in its queue: a change of agent only
        User = get_user_model()
        agent = _pick(
            User.objects.filter(pk__in=[u.pk for u in agents(request.workspace)]),
            request.POST.get("to", ""),
            "to",
            "Choose an agent of this workspace.",
        )
        services.conversation_transfer(
            actor=Actor.from_request(request),
            conversation=found,
            queue=queue,
            assignee=agent,
            note=request.POST.get("note", ""),
        )
    except ValidationError as exc:
        return _refused(request, found, "transfer_form", exc)
    where = found.assignee.get_username() if found.assignee else found.queue.display_name
    return _done(request, found, f"#{found.number} transferred to {where}.")


def _snooze_time(raw: str, workspace):
    """`datetime-local` has no zone: it is the workspace's wall time."""
    if not raw:
        return None
    when = parse_datetime(raw)
    if when is None:
        raise ValidationError({"snoozed_until": ["A date and time, e.g. 2026-12-24 09:00."]})
    if timezone.is_naive(when):
        when = timezone.make_aware(when, zoneinfo.ZoneInfo(workspace.timezone))
    return when


@require_POST
@workspace_required("inbox.reply")
def status(request, number: int):
    """Open, pending, or snoozed until a time (services.conversation_set_status)."""
    found = _conversation(request, number)
    try:
        services.conversation_set_status(
            actor=Actor.from_request(request),
            conversation=found,
            status=request.POST.get("status", ""),
            snoozed_until=_snooze_time(request.POST.get("snoozed_until", ""), request.workspace),
        )
    except ValidationError as exc:
        return _refused(request, found, "status_form", exc)
    text = f"#{found.number} is {found.get_status_display().lower()}"
    if found.status == Conversation.Status.SNOOZED:
        local = timezone.localtime(found.snoozed_until, zoneinfo.ZoneInfo(request.workspace.timezone))
        text += f" until {local:%d %b %H:%M}"
    return _done(request, found, text + ".")


@require_POST
@workspace_required("inbox.reply")
def priority(request, number: int):
    found = _conversation(request, number)
    try:
        services.conversation_set_priority(
            actor=Actor.from_request(request), conversation=found, priority=request.POST.get("priority", "")
        )
    except ValidationError as exc:
        return _refused(request, found, "priority_form", exc)
    return _done(request, found, f"#{found.number} is {found.get_priority_display().lower()} priority.")


@require_POST
@workspace_required("inbox.reply")
def return_to_journey(request, number: int):
    """Hand the contact back: the hand-off node's waiting exit resumes (services)."""
    found = _conversation(request, number)
    try:
        services.conversation_return_to_journey(
            actor=Actor.from_request(request), conversation=found, note=request.POST.get("note", "")
        )
    except ValidationError as exc:
        return _refused(request, found, "return_form", exc)
    return _done(request, found, f"#{found.number} returned to the journey.")
