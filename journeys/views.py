"""Journey pages until (and beside) the canvas: the list, and a journey's page with its status,
version, counters, audience runs in progress, publish (with the problem list), pause / resume /
archive, a start for a segment, and recent enrolments. Thin: parse, check, call one service."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_POST

from contacts.models import Contact, Segment
from contacts.selectors import contact_list
from cpaas.tenancy import Actor, workspace_required
from experiments import selectors as experiment_selectors

from . import selectors, services
from .models import Enrollment, Journey, JourneyCounter
from .nodes import REGISTRY
from .validation import node_title, validate_graph


def _journey_or_404(request, pk) -> Journey:
    try:
        return selectors.journey_get(workspace=request.workspace, pk=pk)
    except Journey.DoesNotExist:
        raise Http404 from None


@workspace_required("journeys.view")
def journey_list(request):
    journeys = list(selectors.journey_list(workspace=request.workspace, status=request.GET.get("status", "")))
    totals: dict[int, dict] = {}
    for jid, key, value in JourneyCounter.objects.filter(journey__in=journeys, node="").values_list(
        "journey_id", "key", "value"
    ):
        totals.setdefault(jid, {})[key] = value
    rows = [{"journey": j, "totals": totals.get(j.pk, {})} for j in journeys]
    return TemplateResponse(request, "journeys/list.html", {"rows": rows, "status": request.GET.get("status", ""),
                                                            "statuses": Journey.Status.choices})  # fmt: skip


def _detail_context(request, journey, problems=None) -> dict:
    ws = request.workspace
    draft = journey.versions.filter(published_at__isnull=True).first()
    graph = (journey.live_version.graph if journey.live_version else (draft.graph if draft else {})) or {}
    counters = selectors.node_counters(workspace=ws, journey=journey)
    experiments = {
        e.node: e for e in experiment_selectors.experiment_list(workspace=ws, journey_id=journey.pk)
    }
    nodes = []
    for nid, node in (graph.get("nodes") or {}).items():
        spec = REGISTRY.get(node.get("type"))
        nodes.append({"id": nid, "label": node_title(node),
                      "type": node.get("type"), "icon": spec.icon if spec else "circle-question-mark",
                      "counts": counters.get(nid, {"entered": 0, "waiting": 0, "exits": {}}),
                      "exits": node.get("exits") or {}, "experiment": experiments.get(nid)})  # fmt: skip
    return {
        "journey": journey,
        "draft": draft,
        "draft_problems": problems
        if problems is not None
        else (validate_graph(draft.graph, workspace=ws) if draft else []),
        "totals": selectors.journey_totals(workspace=ws, journey=journey),
        "message_stats": selectors.journey_message_stats(workspace=ws, journey=journey),
        "lag_s": selectors.journey_lag_s(workspace=ws, journey=journey),
        "nodes": nodes,
        "runs": selectors.audience_runs(workspace=ws, journey=journey)[:5],
        "enrollments": selectors.enrollment_list(workspace=ws, journey=journey)[:20],
        "segments": Segment.objects.filter(workspace=ws),
        "versions": journey.versions.filter(published_at__isnull=False, is_test=False).order_by("-number")[
            :10
        ],
    }


@workspace_required("journeys.view")
def journey_detail(request, pk):
    journey = _journey_or_404(request, pk)
    context = _detail_context(request, journey)
    if request.htmx and request.htmx.target == "journey-live":
        return TemplateResponse(request, "journeys/detail.html#live", context)
    return TemplateResponse(request, "journeys/detail.html", context)


@require_POST
@workspace_required("journeys.publish")
def journey_action(request, pk):
    journey = _journey_or_404(request, pk)
    action = request.POST.get("action", "")
    actor = Actor.from_request(request)
    try:
        if action == "publish":
            version = services.journey_publish(
                journey=journey, actor=actor, note=request.POST.get("note", "")
            )
            messages.success(request, f"Version {version.number} is live.")
        elif action == "pause":
            services.journey_pause(journey=journey, actor=actor)
            messages.success(request, "Paused: nobody enters, and contacts in it wait where they are.")
        elif action == "resume":
            services.journey_resume(journey=journey, actor=actor)
            messages.success(request, "Resumed.")
        elif action == "archive":
            services.journey_archive(journey=journey, actor=actor)
            messages.success(request, "Archived; contacts still in it were cancelled.")
        else:
            raise ValidationError({"action": [f"Unknown action '{action}'."]})
    except services.JourneyInvalid as exc:
        journey.refresh_from_db()
        context = _detail_context(request, journey, problems=exc.problems)
        context["publish_refused"] = True
        return TemplateResponse(request, "journeys/detail.html", context, status=400)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect("journey_detail", pk=journey.pk)


@require_POST
@workspace_required("journeys.publish")
def journey_start_view(request, pk):
    """Start a segment, or a CSV list whose first column is `id`, `external_id` or `phone`."""
    journey = _journey_or_404(request, pk)
    upload = request.FILES.get("csv")
    actor = Actor.from_request(request)
    try:
        if request.POST.get("contact"):
            contact = Contact.objects.filter(workspace=request.workspace, pk=request.POST["contact"]).first()
            if contact is None:
                raise ValidationError({"contact": ["Choose a contact from the search."]})
            run = services.journey_start_contact(journey=journey, actor=actor, contact=contact)
            messages.success(request, f"Starting {contact.display_name} (run {run.pk}).")
        elif upload is not None:
            ids = services.contacts_from_csv(
                workspace=request.workspace, data=upload.read(services.CSV_MAX_BYTES + 1)
            )
            run = services.journey_start(journey=journey, actor=actor, contact_ids=ids)
            messages.success(request, f"Starting {len(ids):,} contacts from {upload.name} (run {run.pk}).")
        else:
            segment = Segment.objects.filter(
                workspace=request.workspace, pk=request.POST.get("segment") or 0
            ).first()
            if segment is None:
                raise ValidationError({"segment": ["Choose a segment or a CSV file."]})
            run = services.journey_start(journey=journey, actor=actor, segment=segment)
            messages.success(
                request, f"Starting '{segment.name}': contacts are enrolled in batches (run {run.pk})."
            )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect("journey_detail", pk=journey.pk)


@require_GET
@workspace_required("journeys.publish")
def journey_contact_search(request, pk):
    """The journey page's "start for a contact": contacts by name, phone (any format) or email."""
    journey = _journey_or_404(request, pk)
    q = request.GET.get("q", "").strip()[:100]
    found = list(contact_list(workspace=request.workspace, filters={"q": q})[:8]) if q else []
    return TemplateResponse(
        request, "journeys/detail.html#found", {"journey": journey, "found": found, "q": q}
    )


@require_POST
@workspace_required("journeys.publish")
def enrollment_cancel_view(request, pk):
    try:
        enrollment = selectors.enrollment_get(workspace=request.workspace, pk=pk)
    except Enrollment.DoesNotExist:
        raise Http404 from None
    try:
        services.enrollment_cancel(
            enrollment=enrollment, actor=Actor.from_request(request), reason=request.POST.get("reason", "")
        )
        messages.success(request, "The contact left the journey.")
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect("journey_detail", pk=enrollment.journey_id)
