"""The suppression list, the review list of possible opt-outs, and the consent CSV imports."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from contacts.models import ChannelKind
from cpaas import csv_safe
from cpaas.forms import apply_errors
from cpaas.roles import role_allows
from cpaas.tenancy import Actor, workspace_required

from .. import selectors, services
from ..forms import ImportForm, LiftForm, SuppressionForm
from ..models import ConsentImport, KeywordReview, Suppression
from ..services import imports


@workspace_required("consent.view")
def consent_suppressions(request):
    form = SuppressionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not role_allows(request.role, "consent.edit"):
            raise PermissionDenied(f"Your role ({request.role}) does not allow consent.edit.")
        if form.is_valid():
            try:
                services.suppression_add(
                    workspace=request.workspace,
                    actor=Actor.from_request(request),
                    at=timezone.now(),
                    **form.cleaned_data,
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, "Address added to the suppression list.")
                return redirect("consent_suppressions")
        status = 400
    q, channel = request.GET.get("q", "").strip(), request.GET.get("channel", "").strip()
    entries = selectors.suppression_list(workspace=request.workspace, q=q, channel=channel).select_related(
        "contact"
    )
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "q": q,
        "channel": channel,
        "channels": ChannelKind.choices,
        "querystring": "".join(f"{k}={v}&" for k, v in (("q", q), ("channel", channel)) if v),
    }
    template = "consent/suppressions.html#results" if request.htmx and request.htmx.target == "results" else (
        "consent/suppressions.html"
    )  # fmt: skip
    return TemplateResponse(request, template, context, status=status)


@workspace_required("consent.edit")
def consent_suppression_lift(request, pk):
    entry = get_object_or_404(Suppression, workspace=request.workspace, pk=pk)
    form = LiftForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.suppression_lift(
                suppression=entry,
                actor=Actor.from_request(request),
                reason=form.cleaned_data["reason"],
                at=timezone.now(),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Suppression lifted.")
            return redirect("consent_suppressions")
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(
        request, "consent/suppression_lift.html", {"entry": entry, "form": form}, status=status
    )


# --- imports ----------------------------------------------------------------------------------------


@workspace_required("consent.import")
def consent_import_list(request):
    page = Paginator(selectors.import_list(workspace=request.workspace), 25).get_page(request.GET.get("page"))
    return TemplateResponse(request, "consent/import_list.html", {"page": page, "querystring": ""})


@workspace_required("consent.import")
def consent_import_create(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            consent_import = imports.consent_import_upload(
                workspace=request.workspace,
                actor=Actor.from_request(request),
                filename=upload.name,
                content=upload.read(),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return redirect("consent_import_detail", pk=consent_import.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "columns": imports.COLUMNS, "required": imports.REQUIRED}
    return TemplateResponse(request, "consent/import_create.html", context, status=status)


def _import_or_404(request, pk) -> ConsentImport:
    return get_object_or_404(ConsentImport, workspace=request.workspace, pk=pk)


@workspace_required("consent.import")
def consent_import_detail(request, pk):
    consent_import = _import_or_404(request, pk)
    preview = None
    if consent_import.status == ConsentImport.Status.UPLOADED:
        try:
            preview = imports.import_preview(consent_import=consent_import, at=timezone.now())
        except ValidationError as exc:
            preview = []
            messages.error(request, " ".join(exc.messages))
    context = {"ci": consent_import, "preview": preview, "errors_shown": consent_import.errors[:200]}
    if request.htmx and request.htmx.target == "import-progress":
        return TemplateResponse(request, "consent/import_detail.html#progress", context)
    return TemplateResponse(request, "consent/import_detail.html", context)


@require_POST
@workspace_required("consent.import")
def consent_import_start(request, pk):
    consent_import = _import_or_404(request, pk)
    try:
        imports.consent_import_start(consent_import=consent_import, actor=Actor.from_request(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("consent_import_detail", pk=consent_import.pk)


@workspace_required("consent.import")
def consent_import_errors_csv(request, pk):
    consent_import = _import_or_404(request, pk)
    rows = ([e["line"], e["column"], e["value"], e["reason"]] for e in consent_import.errors)
    return csv_safe.csv_response(
        f"consent-import-{consent_import.pk}-problems.csv", ["line", "column", "value", "reason"], rows
    )


@workspace_required("consent.view")
def consent_reviews(request):
    """Inbound messages that hold a STOP word but are not plainly a revocation: a person decides."""
    reviews = (
        KeywordReview.objects.filter(workspace=request.workspace, decision=KeywordReview.Decision.OPEN)
        .select_related("contact")
        .order_by("-created_at", "-pk")
    )
    decided = (
        KeywordReview.objects.filter(workspace=request.workspace)
        .exclude(decision=KeywordReview.Decision.OPEN)
        .select_related("contact")
        .order_by("-decided_at", "-pk")[:20]
    )
    page = Paginator(reviews, 50).get_page(request.GET.get("page"))
    return TemplateResponse(
        request, "consent/reviews.html", {"page": page, "decided": decided, "querystring": ""}
    )


@require_POST
@workspace_required("consent.edit")
def consent_review_decide(request, pk):
    review = get_object_or_404(KeywordReview, workspace=request.workspace, pk=pk)
    opt_out = request.POST.get("decision") == "opt_out"
    try:
        services.review_decide(
            review=review, actor=Actor.from_request(request), opt_out=opt_out, at=timezone.now()
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, "Opted out." if opt_out else "Marked as not an opt-out.")
    return redirect("consent_reviews")
