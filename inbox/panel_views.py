"""The contact panel beside a conversation (`<aside id="contact-panel">` on the inbox page loads
it with htmx) and its forms: edit the contact, flag vulnerability, record a promise to pay.

An agent reaches a contact only through a conversation they can see: every URL names the
conversation by its number and answers 404 for one of another queue or workspace."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from contacts.forms import ContactForm
from contacts.models import ChannelKind
from cpaas.forms import apply_errors
from cpaas.roles import role_allows
from cpaas.tenancy import Actor, workspace_required

from . import panel, panel_services
from .models import Conversation
from .selectors import Viewer, visible_conversations

PARTIAL = "inbox/_contact_panel.html"
PAGE = "inbox/contact_panel_page.html"


def conversation_or_404(request, number: int) -> Conversation:
    conversation = (
        visible_conversations(Viewer.from_request(request))
        .select_related("contact", "workspace", "queue")
        .filter(number=number)
        .first()
    )
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


class PanelContactForm(ContactForm):
    """The contact fields an agent may change (panel_services.AGENT_FIELDS)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in list(self.fields):
            if name in ("phone", "external_id", "is_vulnerable", "vulnerability_note") or name.startswith(
                "address_"
            ):
                del self.fields[name]

    def service_data(self) -> dict:
        data = {
            k: v
            for k, v in self.cleaned_data.items()
            if k in panel_services.AGENT_FIELDS and not k.startswith("attr_")
        }
        data["attributes"] = {d.key: self.cleaned_data.get(f"attr_{d.key}") for d in self.definitions}
        return data


class VulnerabilityForm(forms.Form):
    vulnerable = forms.BooleanField(required=False, label="Vulnerable customer")
    vulnerability_note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Note",
        help_text="What the customer told you or what you noticed (kept in the audit log).",
    )


class PromiseForm(forms.Form):
    amount = forms.CharField(required=False, help_text="e.g. 120.50")
    currency = forms.CharField(required=False, max_length=3, help_text="3 letters, e.g. GBP")
    due_date = forms.CharField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    reminder_channel = forms.ChoiceField(
        label="Remind by", choices=[("", "the journey's channel")] + ChannelKind.choices, required=False
    )
    note = forms.CharField(required=False, max_length=500, help_text="What the customer said.")


# the promise form's first guess at the currency when the contact has promised nothing yet
COUNTRY_CURRENCY = {"GB": "GBP", "US": "USD", "CA": "CAD", "AU": "AUD", "NZ": "NZD", "IN": "INR", "ZA": "ZAR"}
EURO = {"AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PT", "SI", "SK"}  # fmt: skip


def _currency(context: dict) -> str:
    earlier = next((line.promise.currency for line in context["promises"] if line.promise.currency), "")
    country = context["conversation"].workspace.default_country
    return earlier or COUNTRY_CURRENCY.get(country) or ("EUR" if country in EURO else "")


class ResolveForm(forms.Form):
    disposition = forms.ChoiceField(
        choices=[("", "—")] + Conversation.Disposition.choices, required=False, label="Outcome"
    )
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=5000)


def _render(request, conversation, *, status=200, **forms_):
    can_reply = role_allows(request.role, "inbox.reply")
    contact = conversation.contact
    context = panel.contact_panel(conversation=conversation, now=timezone.now())
    context.update(
        can_reply=can_reply,
        can_clear_vulnerability=role_allows(request.role, "inbox.supervise"),
        contact_form=forms_.get("contact_form")
        or PanelContactForm(workspace=request.workspace, initial=PanelContactForm.initial_for(contact)),
        vulnerability_form=forms_.get("vulnerability_form")
        or VulnerabilityForm(initial={"vulnerable": not contact.is_vulnerable, "vulnerability_note": ""}),
        promise_form=forms_.get("promise_form") or PromiseForm(initial={"currency": _currency(context)}),
        resolve_form=forms_.get("resolve_form") or ResolveForm(),
        open_section=forms_.get("open_section", ""),
    )
    if request.htmx:  # htmx swaps only 2xx answers: the errors come back in the partial
        return TemplateResponse(request, PARTIAL, context)
    return TemplateResponse(request, PAGE, context, status=status)


@workspace_required("inbox.view")
def contact_panel(request, number):
    return _render(request, conversation_or_404(request, number))


def _done(request, conversation):
    if request.htmx:
        return _render(request, conversation)
    return redirect("inbox_contact_panel", number=conversation.number)


@require_POST
@workspace_required("inbox.reply")
def contact_edit(request, number):
    conversation = conversation_or_404(request, number)
    form = PanelContactForm(request.POST, workspace=request.workspace)
    if form.is_valid():
        try:
            panel_services.conversation_contact_update(
                conversation=conversation, actor=Actor.from_request(request), data=form.service_data()
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            conversation.contact.refresh_from_db()
            return _done(request, conversation)
    return _render(request, conversation, status=400, contact_form=form, open_section="edit")


@require_POST
@workspace_required("inbox.reply")
def vulnerability_set(request, number):
    conversation = conversation_or_404(request, number)
    form = VulnerabilityForm(request.POST)
    if form.is_valid():
        vulnerable = form.cleaned_data["vulnerable"]
        if not vulnerable and not role_allows(request.role, "inbox.supervise"):
            # FG21/1: a flag raised for a customer's protection is lifted by a supervisor
            form.add_error("vulnerable", "Only a supervisor can clear the vulnerability flag.")
        else:
            try:
                panel_services.conversation_vulnerability_set(
                    conversation=conversation,
                    actor=Actor.from_request(request),
                    vulnerable=vulnerable,
                    note=form.cleaned_data["vulnerability_note"],
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                conversation.contact.refresh_from_db()
                return _done(request, conversation)
    return _render(request, conversation, status=400, vulnerability_form=form, open_section="vulnerability")


@require_POST
@workspace_required("inbox.reply")
def promise_record(request, number):
    conversation = conversation_or_404(request, number)
    form = PromiseForm(request.POST)
    if form.is_valid():
        try:
            panel_services.conversation_promise_record(
                conversation=conversation, actor=Actor.from_request(request), data=form.cleaned_data
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return _done(request, conversation)
    return _render(request, conversation, status=400, promise_form=form, open_section="promise")


@require_POST
@workspace_required("inbox.reply")
def resolve(request, number):
    """The resolve dialog of the panel: a disposition code and a note."""
    conversation = conversation_or_404(request, number)
    form = ResolveForm(request.POST)
    if form.is_valid():
        try:
            panel_services.conversation_resolve_with_disposition(
                conversation=conversation,
                actor=Actor.from_request(request),
                disposition=form.cleaned_data["disposition"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            if "conversation" in exc.message_dict:  # already resolved: say it on the form
                exc = ValidationError({None: exc.message_dict["conversation"]})
            apply_errors(form, exc)
        else:
            conversation.refresh_from_db()
            return _done(request, conversation)
    return _render(request, conversation, status=400, resolve_form=form, open_section="resolve")
