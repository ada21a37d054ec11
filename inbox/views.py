"""The inbox page (docs/inbox.md): the list, the open conversation's thread and composer, and the
contact panel side by side. htmx swaps the named partials; a realtime event only says which
conversation changed, and the page fetches these same partials (`changes`) with its own
permissions. Every conversation is looked up among those the agent may see
(inbox.selectors.Viewer), so another queue's or workspace's conversation answers 404."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from channels_app.models import Message
from contacts.models import ChannelKind
from cpaas.tenancy import Actor, workspace_required

from . import compose, listing, presence, selectors, services
from .availability_views import availability_context
from .models import Conversation
from .selectors import Viewer

PAGE_SIZE = 50
TIMELINE_LIMIT = 100


def _item(message: Message, author) -> selectors.Item:
    return selectors.Item(message.created_at, "message", message=message, author=author)


def _conversation(request, number: int) -> Conversation:
    qs = selectors.visible_conversations(Viewer.from_request(request))
    conversation = qs.select_related("contact", "queue", "assignee").filter(number=number).first()
    if conversation is None:
        raise Http404("No such conversation in your queues.")
    return conversation


def _list_context(request) -> dict:
    viewer = Viewer.from_request(request)
    filters = listing.Filters.from_query(request.GET)
    qs = selectors.conversation_list(viewer, filters=filters.selector_filters(), sort=filters.sort)
    page = Paginator(qs.select_related("contact", "queue", "assignee"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    unread, mentioned = selectors.unread_with_mentions(viewer, page.object_list)
    return {
        **availability_context(request),
        "filters": filters,
        "page": page,
        "unread": unread,
        "mentioned": mentioned,
        "querystring": filters.querystring(),
        "queues": selectors.visible_queues(viewer).order_by("label", "name"),
        "statuses": listing.STATUSES,
        "sorts": listing.SORTS,
        "shows": listing.SHOW,
        "channels": ChannelKind.choices,
        "priorities": Conversation.Priority.choices,
    }


def _thread_context(request, conversation: Conversation) -> dict:
    now = timezone.now()
    services.conversation_mark_read(user=request.user, conversation=conversation, at=now)
    return {
        "conversation": conversation,
        "items": selectors.timeline(
            request.workspace,
            conversation,
            limit=TIMELINE_LIMIT,
            viewer=selectors.Viewer.from_request(request),
        ),
        "server_now": now,
        **_actions(request, conversation),
        **compose.composer_context(conversation=conversation),
    }


def _actions(request, conversation: Conversation) -> dict:
    from .action_views import actions_context  # that module builds on this one's lookups

    return actions_context(request, conversation)


@workspace_required("inbox.view")
def inbox(request):
    if (request.GET.get("c") or "").isdigit():  # the contact panel's page links back this way
        return redirect("inbox_conversation", number=int(request.GET["c"]))
    context = _list_context(request)
    if request.htmx and request.htmx.target == "conv-list":
        return TemplateResponse(request, "inbox/inbox.html#list", context)
    return TemplateResponse(request, "inbox/inbox.html", context)


@workspace_required("inbox.view")
def conversation(request, number: int):
    found = _conversation(request, number)
    if request.htmx and request.htmx.target == "thread":
        return TemplateResponse(request, "inbox/inbox.html#thread", _thread_context(request, found))
    context = {**_list_context(request), **_thread_context(request, found)}
    return TemplateResponse(request, "inbox/inbox.html", context)


@workspace_required("inbox.view")
def changes(request, number: int):
    """What the open conversation's timeline gained or changed since `since` (the last event the
    page saw): the resync after a reconnect."""
    found = _conversation(request, number)
    since = parse_datetime(request.GET.get("since") or "")
    if since is None or timezone.is_naive(since):
        return HttpResponse("`since` must be an ISO date-time with its offset.", status=400)
    items = selectors.timeline(
        request.workspace,
        found,
        since=since,
        limit=TIMELINE_LIMIT,
        viewer=selectors.Viewer.from_request(request),
    )
    # the page shows these now: the agent has read the conversation (its row stays read)
    services.conversation_mark_read(user=request.user, conversation=found, at=timezone.now())
    return TemplateResponse(
        request,
        "inbox/_changes.html",
        {"items": items, "server_now": timezone.now(), **_actions(request, found)},
    )


@require_POST
@workspace_required("inbox.view")
def presence_view(request, number: int):
    found = _conversation(request, number)
    state = request.POST.get("state", "")
    if state not in presence.STATES:
        return HttpResponse(f"state must be one of {', '.join(presence.STATES)}.", status=400)
    presence.announce(conversation=found, user=request.user, state=state)
    return HttpResponse(status=204)


@workspace_required("inbox.reply")
def preview(request, number: int):
    """The composer's verdict as the agent types: would this reply go, wait, or be blocked, and
    why; and may free text go at all (the WhatsApp window)."""
    found = _conversation(request, number)
    verdict = compose.reply_verdict(
        conversation=found, channel=request.GET.get("channel", ""), now=timezone.now()
    )
    return TemplateResponse(request, "inbox/_verdict.html", {"verdict": verdict})


@workspace_required("inbox.reply")
def canned(request, number: int):
    found = _conversation(request, number)
    options = compose.canned_matches(conversation=found, query=request.GET.get("q", ""), agent=request.user)
    return TemplateResponse(request, "inbox/_canned.html", {"options": options})


def _toast(response, text: str, level: str):
    return trigger_client_event(response, "toast", {"text": text, "level": level})


@require_POST
@workspace_required("inbox.reply")
def reply(request, number: int):
    found = _conversation(request, number)
    try:
        result = compose.reply_from_form(
            conversation=found, actor=Actor.from_request(request), data=request.POST, now=timezone.now()
        )
    except ValidationError as exc:
        response = TemplateResponse(request, "inbox/_compose_errors.html", {"errors": exc})
        response["HX-Retarget"] = "#compose-errors"
        response["HX-Reswap"] = "innerHTML"
        return response if request.htmx else HttpResponse(" ".join(exc.messages), status=400)
    if result.collision:
        response = TemplateResponse(request, "inbox/_collision_confirm.html", {"collision": result.collision})
        response["HX-Retarget"] = "#compose-errors"
        response["HX-Reswap"] = "innerHTML"
        return response
    if not request.htmx:
        return redirect("inbox_conversation", number=found.number)
    response = TemplateResponse(request, "inbox/_item.html", {"item": _item(result.message, request.user)})
    return _toast(response, *result.toast)


def _acted(request, found: Conversation, text: str):
    """After an action from the thread header: the live event refreshes every open page (this
    one too); without JavaScript, back to the conversation."""
    if not request.htmx:
        flash.success(request, text)
        return redirect("inbox_conversation", number=found.number)
    return _toast(HttpResponse(status=204), text, "success")


def _refused(request, found: Conversation, exc: ValidationError):
    text = " ".join(exc.messages)
    if not request.htmx:
        flash.error(request, text)
        return redirect("inbox_conversation", number=found.number)
    return _toast(HttpResponse(status=204), text, "error")


@require_POST
@workspace_required("inbox.assign")
def assign(request, number: int):
    """Claim (to=me) or assign to a member of the queue, with an optional note."""
    found = _conversation(request, number)
    actor = Actor.from_request(request)
    to = request.POST.get("to", "")
    try:
        if to == "me" and found.assignee_id is None:
            services.conversation_claim(actor=actor, conversation=found)
        else:
            agent = (
                request.user
                if to == "me"
                else found.queue.members.filter(pk=int(to) if to.isdigit() else 0).first()
            )
            if agent is None:
                raise ValidationError({"to": ["Choose a member of this conversation's queue."]})
            services.conversation_assign(
                actor=actor, conversation=found, assignee=agent, note=request.POST.get("note", "")
            )
    except ValidationError as exc:
        return _refused(request, found, exc)
    return _acted(request, found, f"#{found.number} assigned to {found.assignee.get_username()}.")


@require_POST
@workspace_required("inbox.reply")
def retry(request, message_id: int):
    message = Message.objects.filter(workspace=request.workspace, pk=message_id).first()
    found = (
        selectors.visible_conversations(Viewer.from_request(request))
        .filter(contact_id=getattr(message, "contact_id", 0))
        .order_by("-opened_at")
        .first()
    )
    if found is None:
        raise Http404("No such message in your conversations.")
    try:
        message = services.reply_retry(actor=Actor.from_request(request), conversation=found, message=message)
    except ValidationError as exc:
        text = " ".join(exc.messages)
        return _toast(HttpResponse(text, status=400), text, "error")
    response = TemplateResponse(request, "inbox/_item.html", {"item": _item(message, request.user)})
    response["HX-Retarget"] = "#entries"
    response["HX-Reswap"] = "beforeend"
    return _toast(response, "Sent again as a new message.", "success")
