"""The messages log: filter by channel, status, contact, purpose and date; a message's page
shows every status change, the consent decision and the attempts of its fallback chain."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404
from django.template.response import TemplateResponse

from contacts.models import Contact
from cpaas.tenancy import workspace_required

from .. import selectors
from ..forms import MessageFilterForm
from ..models import Message


@workspace_required("messages.view")
def message_list(request):
    form = MessageFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    channels = selectors.channel_list(workspace=request.workspace)
    form.fields["channel"].widget.choices = [("", "Any")] + [(c.pk, c.name) for c in channels]
    messages = selectors.message_list(workspace=request.workspace, filters=filters).select_related(
        "contact", "channel"
    )
    page = Paginator(messages, 50).get_page(request.GET.get("page"))
    contact = None
    if filters.get("contact"):
        contact = Contact.objects.filter(workspace=request.workspace, pk=filters["contact"]).first()
    querystring = "".join(f"{k}={v}&" for k, v in request.GET.items() if k != "page" and v)
    context = {
        "form": form,
        "page": page,
        "querystring": querystring,
        "filtered": any(v not in (None, "") for v in filters.values()),
        "filter_contact": contact,
    }
    if request.htmx and request.htmx.target == "results":
        return TemplateResponse(request, "channels_app/message_list.html#results", context)
    return TemplateResponse(request, "channels_app/message_list.html", context)


@workspace_required("messages.view")
def message_detail(request, pk):
    try:
        message = selectors.message_get(workspace=request.workspace, pk=pk)
    except Message.DoesNotExist:
        raise Http404 from None
    context = {
        "message": message,
        "events": selectors.message_history(workspace=request.workspace, message=message),
        "chain": selectors.message_chain(workspace=request.workspace, message=message)
        if (message.first_attempt_id or message.fallback_chain or hasattr(message, "fallback"))
        else [],
    }
    return TemplateResponse(request, "channels_app/message_detail.html", context)
