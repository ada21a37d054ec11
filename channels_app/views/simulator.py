"""The phone simulator: play a contact on every sandbox channel, see messages arrive live,
reply, press buttons."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from contacts.models import ChannelKind, Contact
from contacts.services import contact_create
from cpaas.roles import role_allows
from cpaas.tenancy import Actor, workspace_required

from .. import selectors
from ..consent_gate import message_words
from ..forms import SimulatorContactForm, SimulatorSendForm
from ..models import Message
from ..services.channels import sandbox_channels_ensure
from ..services.messages import message_send
from ..services.simulator import sandbox_channel, simulator_read, simulator_reply

KINDS = ChannelKind.values


def _contact(request, pk) -> Contact | None:
    if pk in (None, ""):
        return None
    try:
        return Contact.objects.get(workspace=request.workspace, pk=int(pk))
    except (Contact.DoesNotExist, ValueError):
        raise Http404 from None


def _url(contact, kind: str) -> str:
    query = f"?contact={contact.pk}&kind={kind}" if contact else f"?kind={kind}"
    return reverse("simulator") + query


@workspace_required("simulator.use")
def simulator(request):
    sandbox_channels_ensure(workspace=request.workspace)  # workspaces older than this app
    contact = _contact(request, request.GET.get("contact"))
    kind = request.GET.get("kind") if request.GET.get("kind") in KINDS else "sms"
    context = {
        "contact": contact,
        "kind": kind,
        "contacts": selectors.simulator_contacts(workspace=request.workspace),
        "phones": selectors.simulator_phones(workspace=request.workspace, contact=contact) if contact else [],
        "contact_form": SimulatorContactForm(),
        "send_form": SimulatorSendForm(initial={"kind": kind}),
        "can_send": role_allows(request.role, "messages.send"),
    }
    if request.htmx and request.htmx.target == "phones":
        return TemplateResponse(request, "channels_app/simulator.html#phones", context)
    return TemplateResponse(request, "channels_app/simulator.html", context)


def _fail(request, exc: ValidationError, back: str):
    text = " ".join(exc.messages)
    if request.htmx:
        response = HttpResponse(status=200)
        response["HX-Reswap"] = "none"
        return trigger_client_event(response, "toast", {"text": text, "level": "error"})
    flash.error(request, text)
    return redirect(back)


@require_POST
@workspace_required("simulator.use")
def simulator_contact_create(request):
    form = SimulatorContactForm(request.POST)
    if not form.is_valid():
        flash.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("simulator")
    try:
        contact = contact_create(
            workspace=request.workspace,
            actor=Actor.from_request(request),
            data=form.contact_data(),
        )
    except ValidationError as exc:
        return _fail(request, exc, reverse("simulator"))
    flash.success(request, f"Playing {contact.display_name}.")
    return redirect(_url(contact, request.POST.get("kind", "sms")))


@require_POST
@workspace_required("simulator.use")
def simulator_reply_view(request):
    contact = _contact(request, request.POST.get("contact"))
    kind = request.POST.get("kind", "")
    if contact is None or kind not in KINDS:
        raise Http404
    try:
        message = simulator_reply(
            workspace=request.workspace,
            contact=contact,
            kind=kind,
            text=request.POST.get("text", ""),
            button=request.POST.get("button", ""),
            digits=request.POST.get("digits", ""),
            now=timezone.now(),
        )
    except ValidationError as exc:
        return _fail(request, exc, _url(contact, kind))
    if request.htmx:
        return TemplateResponse(request, "channels_app/simulator.html#bubble", {"m": message})
    return redirect(_url(contact, kind))


@require_POST
@workspace_required("simulator.use")
def simulator_read_view(request):
    contact = _contact(request, request.POST.get("contact"))
    kind = request.POST.get("kind", "")
    if contact is None or kind not in KINDS:
        raise Http404
    simulator_read(workspace=request.workspace, contact=contact, kind=kind)
    return HttpResponse(status=204)


@require_POST
@workspace_required("messages.send")
def simulator_send(request):
    """Send as the business to the contact on a sandbox channel (the page's left column)."""
    contact = _contact(request, request.POST.get("contact"))
    if contact is None:
        raise Http404
    form = SimulatorSendForm(request.POST)
    back = _url(contact, request.POST.get("kind", "sms"))
    if not form.is_valid():
        return _fail(request, ValidationError([e for errors in form.errors.values() for e in errors]), back)
    kind = form.cleaned_data["kind"]
    try:
        message = message_send(
            workspace=request.workspace,
            contact=contact,
            channel=sandbox_channel(workspace=request.workspace, kind=kind),
            content=form.content(),
            purpose=form.cleaned_data["purpose"],
            origin=Message.Origin.AGENT,
            actor=Actor.from_request(request),
        )
    except ValidationError as exc:
        return _fail(request, exc, back)
    words = message_words(message, tz=timezone.get_current_timezone())
    if words is not None:
        text, level = words.text, "error" if message.status == Message.Status.BLOCKED else "info"
    else:
        text, level = "Sent to the dispatcher; it appears on the phone when the sandbox has it.", "success"
    if request.htmx:
        if kind != request.POST.get("shown_kind", kind):
            return HttpResponseClientRedirect(_url(contact, kind))
        response = HttpResponse(status=200)
        response["HX-Reswap"] = "none"
        return trigger_client_event(response, "toast", {"text": text, "level": level})
    getattr(flash, level if level != "info" else "info")(request, text)
    return redirect(_url(contact, kind))
