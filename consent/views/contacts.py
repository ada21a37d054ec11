"""Consent pages about people: search, a contact's matrix and history, change with a reason,
decision preview, audit trail CSV, GDPR export and erasure, the event log and registry CSV."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

from contacts import selectors as contact_selectors
from contacts.models import ChannelKind, Contact
from cpaas import csv_safe, gdpr
from cpaas.forms import apply_errors
from cpaas.roles import may_browse_contacts
from cpaas.tenancy import Actor, workspace_required

from .. import selectors, services
from ..forms import ChangeForm, CheckForm, EraseForm
from ..models import ConsentEvent, Method, Status


def contact_or_404(request, pk) -> Contact:
    if not may_browse_contacts(request.role, request.workspace):  # agents: through the inbox
        raise Http404("Open this contact from a conversation in the inbox.")
    try:
        return contact_selectors.contact_get(workspace=request.workspace, pk=pk)
    except Contact.DoesNotExist:
        raise Http404 from None


def _purposes(request):
    return selectors.purposes_for(workspace=request.workspace)


@workspace_required("consent.view")
def consent_home(request):
    q = request.GET.get("q", "").strip()
    contacts = contact_selectors.contact_list(workspace=request.workspace, filters={"q": q}) if q else None
    page = Paginator(contacts, 25).get_page(request.GET.get("page")) if contacts is not None else None
    context = {
        "q": q,
        "page": page,
        "querystring": f"q={q}&" if q else "",
        "stats": selectors.registry_stats(workspace=request.workspace),
        "recent": selectors.event_list(workspace=request.workspace)[:10],
        "contact_names": {},
    }
    recent_ids = {e.contact_id for e in context["recent"]}
    context["contact_names"] = {
        c.pk: c.display_name for c in Contact.objects.filter(workspace=request.workspace, pk__in=recent_ids)
    }
    if request.htmx and request.htmx.target == "results":
        return TemplateResponse(request, "consent/home.html#results", context)
    return TemplateResponse(request, "consent/home.html", context)


def _contact_context(request, contact, *, change_form=None, check_form=None, decision=None) -> dict:
    purposes_map = _purposes(request)
    purposes, rows = selectors.consent_matrix(workspace=request.workspace, contact=contact)
    events = selectors.contact_events(workspace=request.workspace, contact=contact)
    page = Paginator(events, 20).get_page(request.GET.get("page"))
    zone = contact.effective_timezone()
    return {
        "contact": contact,
        "purposes": purposes,
        "rows": rows,
        "page": page,
        "target": "#history",
        "zone": zone,
        "check_form": check_form
        or CheckForm(purposes=purposes_map, zone=request.workspace.timezone, initial={"automated": True}),
        "decision": decision,
        "change_form": change_form,
    }


@workspace_required("consent.view")
def consent_contact(request, pk):
    contact = contact_or_404(request, pk)
    context = _contact_context(request, contact)
    if request.htmx and request.htmx.target == "history":
        return TemplateResponse(request, "consent/contact.html#history", context)
    return TemplateResponse(request, "consent/contact.html", context)


@workspace_required("consent.edit")
def consent_change(request, pk):
    """The change form (a page, or a panel on the contact page over htmx); POST records it."""
    contact = contact_or_404(request, pk)
    purposes = _purposes(request)
    initial = {
        "channel_kind": request.GET.get("channel", ChannelKind.SMS),
        "purpose": request.GET.get("purpose", "marketing"),
        "status": request.GET.get("status", Status.OPTED_OUT),
    }
    form = ChangeForm(
        request.POST or None, purposes=purposes, zone=request.workspace.timezone, initial=initial
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                event, _record = services.consent_change(
                    contact=contact,
                    actor=Actor.from_request(request),
                    at=timezone.now(),
                    **form.service_kwargs(),
                )
            except ValidationError as exc:
                _apply(form, exc)
            else:
                messages.success(
                    request,
                    f"{ChannelKind(event.channel_kind).label} {purposes[event.purpose].label.lower()}: "
                    f"{Status(event.new_status).label.lower()}. Recorded in the history.",
                )
                url = reverse("consent_contact", args=[contact.pk])
                return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
        status = 200 if request.htmx else 400  # htmx swaps only 2xx responses
    context = {"contact": contact, "form": form, "purposes": purposes}
    template = "consent/change.html#form" if request.htmx else "consent/change.html"
    return TemplateResponse(request, template, context, status=status)


def _apply(form, exc: ValidationError) -> None:
    """Service errors next to their fields; evidence problems beside the notice text."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = "notice_text" if field == "evidence" else field
            form.add_error(target if target in form.fields else None, errors)
    else:
        apply_errors(form, exc)


@workspace_required("consent.view")
def consent_contact_check(request, pk):
    """What check() says for this contact, channel, purpose and time (nothing is sent)."""
    contact = contact_or_404(request, pk)
    form = CheckForm(request.GET or None, purposes=_purposes(request), zone=request.workspace.timezone)
    decision = None
    if request.GET and form.is_valid():
        decision = services.check(
            contact,
            form.cleaned_data["channel_kind"],
            form.cleaned_data["purpose"],
            form.at_value(),
            is_template=form.cleaned_data["is_template"],
            automated=form.cleaned_data["automated"],
        )
    context = _contact_context(request, contact, check_form=form, decision=decision)
    template = "consent/contact.html#check" if request.htmx else "consent/contact.html"
    return TemplateResponse(request, template, context)


EVENT_CSV = ["event_id", "contact_id", "occurred_at", "recorded_at", "channel", "purpose", "sender_scope",
             "previous_status", "new_status", "lawful_basis", "method", "actor_type", "actor", "reason",
             "jurisdiction", "expires_at", "notice_text", "notice_version", "url", "language", "ip_address",
             "user_agent", "inbound_message_id", "recording_id", "source_ref"]  # fmt: skip


def _event_row(e: ConsentEvent) -> list:
    return [e.pk, e.contact_id, e.occurred_at.isoformat(), e.recorded_at.isoformat(), e.channel_kind, e.purpose,
            e.sender_scope, e.previous_status, e.new_status, e.lawful_basis, e.method, e.actor_type, e.actor_label,
            e.reason, e.jurisdiction, e.expires_at.isoformat() if e.expires_at else "", e.notice_text,
            e.notice_version, e.url, e.language, e.ip_address or "", e.user_agent, e.inbound_message_id,
            e.recording_id, e.source_ref]  # fmt: skip


@workspace_required("consent.export")
def consent_contact_audit_csv(request, pk):
    contact = contact_or_404(request, pk)
    events = selectors.contact_events(workspace=request.workspace, contact=contact).order_by(
        "occurred_at", "id"
    )
    services.export_recorded(
        workspace=request.workspace, actor=Actor.from_request(request), what="audit_trail", at=timezone.now(),
        contact_id=contact.pk,
    )  # fmt: skip
    return csv_safe.csv_response(
        f"consent-audit-contact-{contact.pk}.csv",
        EVENT_CSV,
        (_event_row(e) for e in events.iterator(chunk_size=2000)),
    )


@workspace_required("consent.export")
def consent_registry_csv(request):
    records = selectors.record_list(workspace=request.workspace)
    services.export_recorded(
        workspace=request.workspace, actor=Actor.from_request(request), what="registry", at=timezone.now()
    )
    header = ["contact_id", "channel", "purpose", "sender_scope", "status", "lawful_basis", "captured_at",
              "confirmed_at", "expires_at", "revoked_at", "updated_at", "last_event_id"]  # fmt: skip

    def rows():
        for r in records.iterator(chunk_size=2000):
            yield [r.contact_id, r.channel_kind, r.purpose, r.sender_scope, r.status, r.lawful_basis,
                   *[(getattr(r, f).isoformat() if getattr(r, f) else "") for f in
                     ("captured_at", "confirmed_at", "expires_at", "revoked_at", "updated_at")],
                   r.last_event_id]  # fmt: skip

    return csv_safe.csv_response("consent-registry.csv", header, rows())


@workspace_required("consent.view")
def consent_events(request):
    filters = {
        k: request.GET.get(k, "").strip() for k in ("channel", "purpose", "method", "status", "contact")
    }
    if filters["contact"] and not filters["contact"].isdigit():
        filters["contact"] = ""
    events = selectors.event_list(workspace=request.workspace, filters=filters)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    names = {
        c.pk: c.display_name
        for c in Contact.objects.filter(workspace=request.workspace, pk__in={e.contact_id for e in page})
    }
    context = {
        "page": page,
        "filters": filters,
        "names": names,
        "querystring": "".join(f"{k}={v}&" for k, v in filters.items() if v),
        "channels": ChannelKind.choices,
        "purposes": _purposes(request).values(),
        "methods": Method.choices,
        "statuses": Status.choices,
    }
    template = "consent/events.html#results" if request.htmx else "consent/events.html"
    return TemplateResponse(request, template, context)


@workspace_required("gdpr.export")
def consent_contact_export(request, pk):
    contact = contact_or_404(request, pk)
    document = gdpr.contact_export(contact=contact, actor=Actor.from_request(request), at=timezone.now())
    response = HttpResponse(
        json.dumps(document, indent=2, ensure_ascii=False, default=str), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}-export.json"'
    return response


@workspace_required("gdpr.erase")
def consent_contact_erase(request, pk):
    contact = contact_or_404(request, pk)
    form = EraseForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                done = gdpr.contact_erase(
                    contact=contact,
                    actor=Actor.from_request(request),
                    reason=form.cleaned_data["reason"],
                    confirmation=form.cleaned_data["confirmation"],
                    at=timezone.now(),
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                kept = done.get("consent", {}).get("suppression_hashes", 0)
                messages.success(
                    request,
                    f"Contact #{pk} erased. {kept} suppression hash(es) kept so the person is never contacted again.",
                )
                return redirect("consent_home")
        status = 400
    held = {
        "events": ConsentEvent.objects.filter(workspace=request.workspace, contact_id=contact.pk).count(),
        "records": selectors.contact_records(workspace=request.workspace, contact=contact).count(),
        "contact_events": contact.events.count(),
    }
    return TemplateResponse(
        request,
        "consent/erase.html",
        {"contact": contact, "form": form, "held": held, "word": gdpr.CONFIRMATION_WORD},
        status=status,
    )
