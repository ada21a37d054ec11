"""Contact pages: list with search and filters, detail with timeline, create/edit, export,
segments with a live count, and the attribute schema."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from cpaas import csv_safe
from cpaas.forms import apply_errors
from cpaas.roles import may_browse_contacts, role_allows
from cpaas.tenancy import Actor, workspace_required

from . import selectors, services
from .forms import ADDRESS_FIELDS, AttributeForm, ContactForm, EventForm
from .models import AttributeDefinition, ChannelKind, Contact, Segment, Tag
from .segments import (
    CONTACT_FIELDS,
    OP_LABELS,
    OPS_BY_TYPE,
    VALUELESS_OPS,
    rule_summary,
    segment_definition_clean,
)

LIST_FILTERS = ("q", "tag", "segment", "language", "channel", "vulnerable")


def _browsing_or_404(request) -> None:
    """An agent reaches contacts through the inbox unless the workspace opens them all."""
    if not may_browse_contacts(request.role, request.workspace):
        raise Http404("Open this contact from a conversation in the inbox.")


def _contact_or_404(request, pk) -> Contact:
    _browsing_or_404(request)
    try:
        return selectors.contact_get(workspace=request.workspace, pk=pk)
    except Contact.DoesNotExist:
        raise Http404 from None


@workspace_required("contacts.view")
def contact_list(request):
    _browsing_or_404(request)
    filters = {k: request.GET.get(k, "").strip() for k in LIST_FILTERS}
    contacts = selectors.contact_list(workspace=request.workspace, filters=filters).prefetch_related("tags")
    page = Paginator(contacts, 50).get_page(request.GET.get("page"))
    querystring = "".join(f"{k}={v}&" for k, v in filters.items() if v)
    context = {
        "page": page,
        "filters": filters,
        "querystring": querystring,
        "filtered": any(filters.values()),
        "tags": Tag.objects.filter(workspace=request.workspace),
        "segments": Segment.objects.filter(workspace=request.workspace),
        "channels": ChannelKind.choices,
    }
    template = (
        "contacts/list.html#results"
        if request.htmx and request.htmx.target == "results"
        else "contacts/list.html"
    )
    return TemplateResponse(request, template, context)


@workspace_required("contacts.view")
def contact_detail(request, pk):
    contact = _contact_or_404(request, pk)
    events = selectors.contact_events(workspace=request.workspace, contact=contact)
    page = Paginator(events, 25).get_page(request.GET.get("page"))
    definitions = {d.key: d for d in AttributeDefinition.objects.filter(workspace=request.workspace)}
    attributes = [
        (definitions[k].label if k in definitions else k, v) for k, v in sorted(contact.attributes.items())
    ]
    context = {
        "contact": contact,
        "page": page,
        "attributes": attributes,
        "event_form": EventForm(),
        "target": "#timeline",
    }
    if request.htmx and request.htmx.target == "timeline":
        return TemplateResponse(request, "contacts/detail.html#timeline", context)
    return TemplateResponse(request, "contacts/detail.html", context)


@workspace_required("contacts.edit")
def contact_create(request):
    form = ContactForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(
                workspace=request.workspace, actor=Actor.from_request(request), data=form.service_data()
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Contact {contact.display_name} created.")
            return redirect("contact_detail", pk=contact.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "contacts/form.html", {"form": form, "address_fields": ADDRESS_FIELDS}, status=status
    )


@workspace_required("contacts.edit")
def contact_edit(request, pk):
    contact = _contact_or_404(request, pk)
    form = ContactForm(
        request.POST or None, workspace=request.workspace, initial=ContactForm.initial_for(contact)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_update(
                contact=contact, actor=Actor.from_request(request), data=form.service_data()
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "Contact saved.")
            return redirect("contact_detail", pk=contact.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "contacts/form.html", {"form": form, "contact": contact}, status=status)


@require_POST
@workspace_required("contacts.edit")
def contact_delete(request, pk):
    contact = _contact_or_404(request, pk)
    name = contact.display_name
    services.contact_delete(contact=contact, actor=Actor.from_request(request))
    messages.success(request, f"Contact {name} deleted.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("contact_list"))
    return redirect("contact_list")


@require_POST
@workspace_required("contacts.edit")
def contact_event_add(request, pk):
    contact = _contact_or_404(request, pk)
    form = EventForm(request.POST)
    if form.is_valid():
        try:
            services.event_record(
                workspace=request.workspace,
                contact=contact,
                name=form.cleaned_data["name"],
                properties=form.cleaned_data["properties"] or {},
                source="ui",
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Event '{form.cleaned_data['name']}' recorded.")
            return redirect("contact_detail", pk=contact.pk)
    events = selectors.contact_events(workspace=request.workspace, contact=contact)
    context = {
        "contact": contact,
        "page": Paginator(events, 25).get_page(1),
        "event_form": form,
        "attributes": [],
    }
    return render(request, "contacts/detail.html", context, status=400)


EXPORT_COLUMNS = [
    "id",
    "external_id",
    "first_name",
    "last_name",
    "phone",
    "email",
    "language",
    "timezone",
    "preferred_channel",
    "tags",
    "is_vulnerable",
    "vulnerability_note",
    "created_at",
]


@workspace_required("contacts.export")
def contact_export(request):
    filters = {k: request.GET.get(k, "").strip() for k in LIST_FILTERS}
    contacts = selectors.contact_list(workspace=request.workspace, filters=filters)
    attribute_keys = list(
        AttributeDefinition.objects.filter(workspace=request.workspace).values_list("key", flat=True)
    )
    address_keys = list(ADDRESS_FIELDS)

    def rows():
        for contact in contacts.prefetch_related("tags").order_by("pk").iterator(chunk_size=2000):
            yield (
                [
                    contact.pk,
                    contact.external_id or "",
                    contact.first_name,
                    contact.last_name,
                    contact.phone or "",
                    contact.email,
                    contact.language,
                    contact.timezone,
                    contact.preferred_channel,
                    ",".join(t.name for t in contact.tags.all()),
                    "true" if contact.is_vulnerable else "false",
                    contact.vulnerability_note,
                    contact.created_at.isoformat(),
                ]
                + [contact.addresses.get(k, "") for k in address_keys]
                + [_export_value(contact.attributes.get(k)) for k in attribute_keys]
            )

    # streamed as the rows are read, so 100,000 contacts never sit in memory
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    header = EXPORT_COLUMNS + [f"address_{k}" for k in address_keys] + attribute_keys
    return csv_safe.csv_response(f"contacts-{request.workspace.slug}-{stamp}.csv", header, rows())


def _export_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- segments ---------------------------------------------------------------------------------


@workspace_required("contacts.view")
def segment_list(request):
    _browsing_or_404(request)
    segments = list(Segment.objects.filter(workspace=request.workspace))
    for segment in segments:
        segment.count = selectors.segment_count(workspace=request.workspace, definition=segment.definition)
        segment.summary = (
            f" {segment.definition.get('match', 'all').upper()} ".join(
                rule_summary(r) for r in segment.definition.get("rules", [])
            )
            or "every contact"
        )
    return render(request, "contacts/segment_list.html", {"segments": segments})


def _field_choices(workspace):
    definitions = list(AttributeDefinition.objects.filter(workspace=workspace))
    choices = [(f"attribute:{d.key}", f"{d.label} ({d.get_type_display().lower()})") for d in definitions]
    choices += [("tag", "Tag"), ("event", "Event")]
    choices += list(CONTACT_FIELDS.items())
    return choices, {d.key: d.type for d in definitions}


def _rules_from_post(post) -> list[dict]:
    rules = []
    for field, op, value, days in zip(
        post.getlist("rule_field"),
        post.getlist("rule_op"),
        post.getlist("rule_value"),
        post.getlist("rule_days"),
        strict=False,
    ):
        if not field:
            continue
        rule = {"field": field, "op": op, "value": value}
        if field.startswith("attribute:"):
            rule = {"field": "attribute", "key": field.split(":", 1)[1], "op": op, "value": value}
        if field == "event":
            rule["within_days"] = days
        rules.append(rule)
    return rules


def _rule_rows(rules, types):
    """Rules as the editor shows them: the selected field and the ops that fit it."""
    rows = []
    for rule in rules:
        field = f"attribute:{rule['key']}" if rule["field"] == "attribute" else rule["field"]
        if rule["field"] == "attribute":
            ops = OPS_BY_TYPE.get(types.get(rule.get("key")), OPS_BY_TYPE["text"])
        elif rule["field"] == "tag":
            ops = ["has", "not_has"]
        elif rule["field"] == "event":
            ops = ["performed", "not_performed"]
        else:
            ops = OPS_BY_TYPE["boolean" if rule["field"] == "is_vulnerable" else "text"]
        op = rule.get("op") if rule.get("op") in ops else ops[0]
        value = "" if rule.get("value") is None else rule.get("value")
        rows.append(
            {
                "field": field,
                "op": op,
                "ops": [(o, OP_LABELS[o]) for o in ops],
                "value": value,
                "days": rule.get("within_days") or "",
                "is_event": rule["field"] == "event",
                # every kind has its value field (a tag's name, an event's name, a field's value)
                # unless its condition needs none ("is set", "is before today")
                "needs_value": op not in VALUELESS_OPS,
                "value_label": {"tag": "Tag name", "event": "Event name"}.get(rule["field"], "Value"),
                "list": {"tag": "segment-tags", "event": "segment-events"}.get(rule["field"], ""),
            }
        )
    return rows


def _unfinished(rule: dict, types) -> bool:
    """A rule whose value is still to be typed (a new row): left out of the count and not yet an
    error, so a new form or a just-added rule shows no error before anything is typed."""
    field = rule.get("field")
    if field == "attribute":
        ops = OPS_BY_TYPE.get(types.get(rule.get("key")), OPS_BY_TYPE["text"])
    elif field == "tag":
        ops = ["has", "not_has"]
    elif field == "event":
        ops = ["performed", "not_performed"]
    else:
        ops = OPS_BY_TYPE["boolean" if field == "is_vulnerable" else "text"]
    op = rule.get("op") if rule.get("op") in ops else ops[0]
    return op not in VALUELESS_OPS and str(rule.get("value") or "").strip() == ""


def _segment_context(request, *, segment, name, description, match, rules, errors=None, typing=False):
    """`typing`: the form is being filled in (a new form, the live preview): rules whose value is
    not typed yet are left out of the count instead of being errors; saving checks them all."""
    from .models import Event

    field_choices, types = _field_choices(request.workspace)
    count, count_error = None, None
    counted = [r for r in rules if not (typing and _unfinished(r, types))]
    try:
        clean = segment_definition_clean(
            workspace=request.workspace, definition={"match": match, "rules": counted}
        )
        count = selectors.segment_count(workspace=request.workspace, definition=clean)
    except ValidationError as exc:
        count_error = exc.messages
    return {
        "segment": segment,
        "name": name,
        "description": description,
        "match": match,
        "rows": _rule_rows(rules, types),
        "field_choices": field_choices,
        "tags": list(Tag.objects.filter(workspace=request.workspace).values_list("name", flat=True)[:500]),
        "events": list(
            Event.objects.filter(workspace=request.workspace).values_list("name", flat=True).distinct()[:200]
        ),
        "count": count,
        "count_error": count_error,
        "errors": errors or {},
    }


@workspace_required("contacts.view")
def segment_edit(request, pk=None):
    if request.method == "POST" and not role_allows(request.role, "segments.edit"):
        raise PermissionDenied("Your role does not allow editing segments.")
    _browsing_or_404(request)
    segment = get_object_or_404(Segment, workspace=request.workspace, pk=pk) if pk else None
    if request.method == "POST":
        name, description = request.POST.get("name", ""), request.POST.get("description", "")
        match, rules = request.POST.get("match", "all"), _rules_from_post(request.POST)
        try:
            segment = services.segment_save(
                workspace=request.workspace,
                actor=Actor.from_request(request),
                name=name,
                description=description,
                definition={"match": match, "rules": rules},
                segment=segment,
            )
        except ValidationError as exc:
            context = _segment_context(
                request,
                segment=segment,
                name=name,
                description=description,
                match=match,
                rules=rules,
                errors=exc.message_dict,
            )
            return render(request, "contacts/segment_form.html", context, status=400)
        messages.success(request, f"Segment '{segment.name}' saved.")
        return redirect("segment_list")
    if segment:
        definition = segment.definition
        context = _segment_context(
            request,
            segment=segment,
            name=segment.name,
            description=segment.description,
            match=definition.get("match", "all"),
            rules=definition.get("rules", []),
        )
    else:
        context = _segment_context(
            request,
            segment=None,
            name="",
            description="",
            match="all",
            rules=[{"field": "tag", "op": "has", "value": ""}],
            typing=True,
        )
    return render(request, "contacts/segment_form.html", context)


@require_POST
@workspace_required("contacts.view")
def segment_preview(request):
    _browsing_or_404(request)
    """Re-render the rule editor with the live count (htmx, on every change)."""
    rules = _rules_from_post(request.POST)
    if request.POST.get("add_rule"):
        rules.append({"field": "tag", "op": "has", "value": ""})
    remove = request.POST.get("remove_rule")
    if remove is not None and remove.isdigit() and int(remove) < len(rules):
        rules.pop(int(remove))
    context = _segment_context(
        request,
        segment=None,
        name=request.POST.get("name", ""),
        description=request.POST.get("description", ""),
        match=request.POST.get("match", "all"),
        rules=rules,
        typing=True,
    )
    return TemplateResponse(request, "contacts/segment_form.html#rules", context)


@require_POST
@workspace_required("segments.edit")
def segment_delete(request, pk):
    segment = get_object_or_404(Segment, workspace=request.workspace, pk=pk)
    services.segment_delete(segment=segment, actor=Actor.from_request(request))
    messages.success(request, f"Segment '{segment.name}' deleted.")
    return redirect("segment_list")


# --- attributes -------------------------------------------------------------------------------


@workspace_required("contacts.view")
def attribute_list(request):
    form = AttributeForm(request.POST or None)
    if request.method == "POST":
        if not role_allows(request.role, "attributes.edit"):
            raise PermissionDenied("Only admins define contact attributes.")
        if form.is_valid():
            try:
                services.attribute_definition_create(
                    workspace=request.workspace, actor=Actor.from_request(request), **form.cleaned_data
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, f"Attribute '{form.cleaned_data['key']}' added.")
                return redirect("attribute_list")
    definitions = AttributeDefinition.objects.filter(workspace=request.workspace)
    return render(
        request,
        "contacts/attribute_list.html",
        {"definitions": definitions, "form": form},
        status=400 if request.method == "POST" else 200,
    )
