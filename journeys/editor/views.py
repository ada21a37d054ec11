"""The canvas editor: the page (JointJS, plain ES modules), and the endpoints it calls: save the
draft (etag-checked), node configuration forms (htmx), SMS segments and preview, publish,
versions (history, read-only view, restore, changes vs live), live counts and a test start.
Views parse, check permission, call one service, render."""

from __future__ import annotations

import json
from types import SimpleNamespace

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from channels_app.segments import count_segments
from contacts.event_names import event_names
from cpaas import icons
from cpaas.jsoninput import JSONInputError, json_parse, json_problem
from cpaas.roles import role_allows
from cpaas.tenancy import Actor, workspace_required
from experiments import presenting
from experiments import selectors as experiment_selectors
from experiments.forms import design_values, essentials_from_post
from experiments.services import experiment_update

from ..engine.counters import counters_for
from ..merge import render as merge_render
from ..models import Journey, JourneyVersion
from ..nodes import REGISTRY
from ..services import (
    JourneyInvalid,
    draft_for,
    journey_create,
    journey_duplicate,
    journey_from_template,
    journey_publish,
    journey_update,
)
from ..templates_catalogue import TEMPLATES
from ..validation import Context, default_title, node_exits, node_title, validate_graph
from .forms import config_from_post, config_problems, fields_for, workspace_choices
from .services import DraftConflict, draft_etag, draft_restore, draft_save_checked, graph_changes

GROUPS = [
    ("Triggers", lambda n: n.category == "trigger"),
    ("Messages", lambda n: n.category == "message"),
    ("Waits", lambda n: n.category == "wait"),
    ("Logic", lambda n: n.category in ("logic", "end")),
    ("Actions", lambda n: n.category == "action" and not n.type.startswith("payment.")),
    ("Collections", lambda n: n.type.startswith("payment.")),
]
SAMPLE_CONTACT = SimpleNamespace(
    pk=1, first_name="Ana", last_name="Silva", full_name="Ana Silva", display_name="Ana Silva",
    phone="+447700900123", email="ana@example.com", language="en", timezone="Europe/London",
    preferred_channel="sms", external_id="cust-1", attributes={},
)  # fmt: skip


def _journey(request, pk) -> Journey:
    return get_object_or_404(Journey, workspace=request.workspace, pk=pk)


def palette() -> list[dict]:
    groups = []
    for title, test in GROUPS:
        items = [
            {"type": n.type, "label": n.label, "icon": n.icon, "help": n.help}
            for n in REGISTRY.values()
            if test(n)
        ]
        groups.append({"title": title, "items": items})
    return groups


def catalogue() -> dict:
    return {
        t: {
            "type": t, "label": n.label, "icon": n.icon, "category": n.category, "help": n.help,
            "defaults": n.defaults, "exits": n.exit_names(dict(n.defaults)), "trigger": n.category == "trigger",
            "purpose_from_journey": n.purpose_from_journey,
        }
        for t, n in REGISTRY.items()
    }  # fmt: skip


def exits_of(graph: dict) -> dict[str, list[str]]:
    return {nid: node_exits(node) for nid, node in (graph.get("nodes") or {}).items()}


def titles_of(graph: dict) -> dict[str, str]:
    """Each node's default title from its config (shown while the marketer has set no label)."""
    return {nid: default_title(node) for nid, node in (graph.get("nodes") or {}).items()}


# --- start points ---------------------------------------------------------------------------


@workspace_required("journeys.view")
def editor_index(request):
    if request.method == "POST":
        if not role_allows(request.role, "journeys.edit"):
            _forbidden(request)
        actor = Actor.for_user(request.user)
        start = request.POST.get("start", "blank")
        try:
            if start == "template":
                _name_free(request.workspace, request.POST.get("name", "").strip())
                journey = journey_from_template(
                    workspace=request.workspace, actor=actor, key=request.POST.get("template", ""),
                    name=request.POST.get("name", "").strip(),
                )  # fmt: skip
            elif start == "duplicate":
                source = get_object_or_404(
                    Journey, workspace=request.workspace, pk=request.POST.get("journey")
                )
                journey = journey_duplicate(
                    journey=source, actor=actor, name=request.POST.get("name", "").strip()
                )
            else:
                journey = journey_create(
                    workspace=request.workspace, actor=actor, name=request.POST.get("name", "").strip()
                )
        except ValidationError as exc:
            for message in exc.messages:
                flash.error(request, message)
            return redirect("editor_index")
        return redirect("editor", pk=journey.pk)
    journeys = Journey.objects.filter(workspace=request.workspace).exclude(status=Journey.Status.ARCHIVED)
    templates = []
    taken = set(Journey.objects.filter(workspace=request.workspace).values_list("name", flat=True))
    for key, build in TEMPLATES.items():
        try:
            spec = build()
        except Exception:  # a template that cannot be built is not offered
            continue
        templates.append({"key": key, "name": spec.get("name", key), "description": spec.get("description", ""),
                          "preview": _preview(spec.get("graph") or {}),
                          "suggested": _free_name(taken, spec.get("name", key))})  # fmt: skip
    return TemplateResponse(
        request,
        "journeys/editor_index.html",
        {"nav": "journeys", "journeys": journeys, "templates": templates, "sprite": icons.sprite_url(),
         "can_edit": role_allows(request.role, "journeys.edit")},
    )  # fmt: skip


def _free_name(taken: set[str], base: str) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base} {n}", n + 1
    return candidate


def _name_free(workspace, name: str) -> None:
    """A journey made from a template is named by the marketer, never silently "X 2"."""
    if not name:
        raise ValidationError("Name the new journey.")
    if Journey.objects.filter(workspace=workspace, name=name).exists():
        raise ValidationError(f"A journey named '{name}' exists already: choose another name.")


def _forbidden(request):
    from django.core.exceptions import PermissionDenied

    raise PermissionDenied("Your role does not allow editing journeys.")


PREVIEW_W, PREVIEW_H = 230, 84  # the canvas's node size (static/js/editor/model.js)


def _preview(graph: dict) -> dict:
    """A small SVG of a template's graph as the canvas draws it: a box per node at its
    position with its type's icon, a curve along every exit; `steps` names them in order."""
    nodes = graph.get("nodes") or {}
    pos = {nid: (n.get("position") or {"x": 0, "y": 0}) for nid, n in nodes.items()}
    if not pos:
        return {"boxes": [], "lines": [], "w": 10, "h": 10, "steps": ""}
    minx = min(p["x"] for p in pos.values()) - 10
    miny = min(p["y"] for p in pos.values()) - 10
    boxes = []
    for nid, p in pos.items():
        spec = REGISTRY.get(nodes[nid]["type"])
        x, y = int(p["x"] - minx), int(p["y"] - miny)
        boxes.append({"x": x, "y": y, "ix": x + 16, "iy": y + 14, "title": node_title(nodes[nid]),
                      "icon": spec.icon if spec else "circle-question-mark"})  # fmt: skip
    lines = []
    for nid, node in nodes.items():
        for target in (node.get("exits") or {}).values():
            if target in pos:
                a, b = pos[nid], pos[target]
                x1, y1 = int(a["x"] - minx + PREVIEW_W), int(a["y"] - miny + PREVIEW_H / 2)
                x2, y2 = int(b["x"] - minx), int(b["y"] - miny + PREVIEW_H / 2)
                mid = (x1 + x2) // 2 if x2 > x1 else x1 + 60
                lines.append(
                    {"d": f"M{x1} {y1} C{mid} {y1} {x2 - (mid - x1) if x2 > x1 else x2 - 60} {y2} {x2} {y2}"}
                )
    order = [nid for nid in _walk(graph)]
    return {
        "boxes": boxes, "lines": lines,
        "w": max(b["x"] for b in boxes) + PREVIEW_W + 20, "h": max(b["y"] for b in boxes) + PREVIEW_H + 20,
        "steps": " → ".join(node_title(nodes[nid]) for nid in order),
    }  # fmt: skip


def _walk(graph: dict) -> list[str]:
    """The nodes in the order a contact meets them (breadth first from the start)."""
    nodes = graph.get("nodes") or {}
    seen, queue = [], [graph.get("start")] if graph.get("start") in nodes else []
    while queue:
        nid = queue.pop(0)
        if nid in seen:
            continue
        seen.append(nid)
        queue += [t for t in (nodes[nid].get("exits") or {}).values() if t in nodes]
    return seen + [nid for nid in nodes if nid not in seen]


# --- the editor page ------------------------------------------------------------------------


def _boot(request, journey: Journey, graph: dict, *, etag: str = "", readonly: bool, version=None) -> dict:
    problems = validate_graph(graph, workspace=request.workspace)
    live = journey.live_version
    urls = {
        name: reverse(f"editor_{name}", kwargs={"pk": journey.pk})
        for name in (
            "save",
            "node_form",
            "publish",
            "versions",
            "counts",
            "test_start",
            "contacts",
            "purpose",
        )
    }
    urls["sms"] = reverse("editor_sms")
    urls["editor"] = reverse("editor", kwargs={"pk": journey.pk})
    return {
        "journey": {"id": journey.pk, "name": journey.name, "status": journey.status,
                    "live_version": live.number if live else None, "purpose": journey.purpose},
        "purposes": sorted(Context(workspace=request.workspace).purposes),
        "graph": graph,
        "etag": etag,
        "problems": problems,
        "exits": exits_of(graph),
        "titles": titles_of(graph),
        "catalogue": catalogue(),
        "icons": icons.sprite_url(),
        "readonly": readonly,
        "version": version,
        "can_edit": role_allows(request.role, "journeys.edit") and not readonly,
        "can_publish": role_allows(request.role, "journeys.publish") and not readonly,
        "urls": urls,
    }  # fmt: skip


@workspace_required("journeys.view")
@require_GET
def editor(request, pk):
    journey = _journey(request, pk)
    if journey.status == Journey.Status.ARCHIVED or not role_allows(request.role, "journeys.edit"):
        version = journey.live_version or journey.versions.exclude(number=None).order_by("-number").first()
        graph, etag, readonly = (version.graph if version else {}), "", True
    else:
        draft = draft_for(journey)
        graph, etag, readonly = draft.graph, draft_etag(draft), False
    boot = _boot(request, journey, graph, etag=etag, readonly=readonly)
    return TemplateResponse(
        request, "journeys/editor.html",
        {"nav": "journeys", "journey": journey, "boot": boot, "palette": palette(), "readonly": readonly},
    )  # fmt: skip


@workspace_required("journeys.view")
@require_GET
def editor_version(request, pk, number):
    journey = _journey(request, pk)
    version = get_object_or_404(JourneyVersion, journey=journey, number=number, is_test=False)
    boot = _boot(request, journey, version.graph, readonly=True, version=version.number)
    return TemplateResponse(
        request, "journeys/editor.html",
        {"nav": "journeys", "journey": journey, "boot": boot, "palette": palette(), "readonly": True,
         "version": version},
    )  # fmt: skip


def _json_body(request) -> tuple[dict | None, str]:
    """The body as a JSON object, or None and why not."""
    try:
        body = json_parse(request.body or b"{}")
    except JSONInputError as exc:
        return None, json_problem(exc)
    return (body, "") if isinstance(body, dict) else (None, "The body must be a JSON object.")


@workspace_required("journeys.edit")
@require_POST
def editor_save(request, pk):
    """Save the draft. Body: {"graph": {...}, "etag": "<the etag the editor started from>"}.
    200 {etag, problems, exits}; 409 {conflict, graph, etag, author} when someone else saved."""
    journey = _journey(request, pk)
    body, problem = _json_body(request)
    if body is None or not isinstance(body.get("graph"), dict):
        return JsonResponse({"error": f"Send {{graph, etag}} as JSON. {problem}".strip()}, status=400)
    try:
        draft, problems = draft_save_checked(
            journey=journey,
            actor=Actor.for_user(request.user),
            graph=body["graph"],
            base_etag=str(body.get("etag", "")),
        )
    except DraftConflict as exc:
        author = exc.draft.author.get_username() if exc.draft.author else "someone"
        return JsonResponse(
            {"conflict": True, "graph": exc.draft.graph, "etag": draft_etag(exc.draft), "author": author,
             "saved_at": exc.draft.updated_at.isoformat(), "exits": exits_of(exc.draft.graph),
             "titles": titles_of(exc.draft.graph)},
            status=409,
        )  # fmt: skip
    except ValidationError as exc:
        return JsonResponse({"error": "; ".join(exc.messages)}, status=400)
    return JsonResponse({"etag": draft_etag(draft), "problems": problems, "exits": exits_of(draft.graph),
                         "titles": titles_of(draft.graph)})  # fmt: skip


@workspace_required("journeys.edit")
@require_POST
def editor_purpose(request, pk):
    """The journey's purpose (the editor bar's "Messages are for"): new message nodes take it;
    blank, each new message asks. 200 {purpose}; 400 {error} for a purpose the workspace lacks."""
    journey = _journey(request, pk)
    try:
        journey = journey_update(journey=journey, actor=Actor.for_user(request.user),
                                 data={"purpose": request.POST.get("purpose", "")})  # fmt: skip
    except ValidationError as exc:
        return JsonResponse({"error": "; ".join(exc.messages)}, status=400)
    return JsonResponse({"purpose": journey.purpose})


# --- node configuration -----------------------------------------------------------------------


@workspace_required("journeys.view")
@require_POST
def editor_node_form(request, pk):
    """Render (and, with `apply`, read back) a node's configuration form. Posted: node id, type,
    the node's current config as JSON, and the form fields."""
    journey = _journey(request, pk)
    node = REGISTRY.get(request.POST.get("type", ""))
    if node is None:
        return HttpResponseBadRequest("Unknown node type.")
    try:
        config = json_parse(request.POST.get("config") or "{}")
    except JSONInputError as exc:
        return HttpResponseBadRequest(f"config must be a JSON object. {json_problem(exc)}")
    if not isinstance(config, dict):
        return HttpResponseBadRequest("config must be a JSON object.")
    parse_errors: dict = {}
    applied = False
    if request.POST.get("apply") and role_allows(request.role, "journeys.edit"):
        config, parse_errors = config_from_post(node, request.POST, config)
        applied = True
    ctx = Context(request.workspace)
    errors = config_problems(node, config, ctx)
    for key, messages in parse_errors.items():
        errors[key] = messages + errors.get(key, [])
    draft = journey.versions.filter(published_at__isnull=True).values_list("graph", flat=True).first()
    choices = workspace_choices(ctx, draft)
    fields = fields_for(node, config, errors, choices, posted=request.POST if applied else None)
    general = [m for k, ms in errors.items() if k not in {f["name"] for f in node.form} for m in ms]
    return TemplateResponse(
        request,
        "journeys/editor_node_form.html",
        {"journey": journey, "node": node, "node_id": request.POST.get("node", ""), "fields": fields,
         "general_errors": general, "config_json": json.dumps(config), "config": config, "applied": applied,
         "exits": node.exit_names(config), "choices": choices, "title": default_title({"type": node.type, "config": config}),
         "readonly": not role_allows(request.role, "journeys.edit") or request.POST.get("readonly") == "1"},
    )  # fmt: skip


@workspace_required("journeys.view")
@require_POST
def editor_sms(request):
    """Segments (GSM-7 / UCS-2, the messaging core's counting) and a preview with sample values."""
    text = request.POST.get("text", "")
    rendered = merge_render(text, contact=SAMPLE_CONTACT, extra={"code": "123456"})
    info = count_segments(rendered)
    return TemplateResponse(request, "journeys/editor_sms.html", {"info": info, "rendered": rendered})


# --- publish and versions ---------------------------------------------------------------------


@workspace_required("journeys.publish")
@require_POST
def editor_publish(request, pk):
    journey = _journey(request, pk)
    try:
        version = journey_publish(
            journey=journey, actor=Actor.for_user(request.user), note=request.POST.get("note", "")
        )
    except JourneyInvalid as exc:
        return JsonResponse({"published": False, "problems": exc.problems}, status=400)
    except ValidationError as exc:
        return JsonResponse({"published": False, "error": "; ".join(exc.messages)}, status=400)
    draft = draft_for(journey)
    return JsonResponse({"published": True, "version": version.number, "etag": draft_etag(draft)})


@workspace_required("journeys.view")
@require_GET
def editor_versions(request, pk):
    journey = _journey(request, pk)
    versions = (
        journey.versions.filter(is_test=False)
        .exclude(number=None)
        .select_related("author")
        .order_by("-number")
    )
    draft = journey.versions.filter(published_at__isnull=True).first()
    live = journey.live_version
    changes = graph_changes(live.graph if live else None, draft.graph if draft else None) if draft else None
    return TemplateResponse(
        request, "journeys/editor_versions.html",
        {"journey": journey, "versions": versions, "live": live, "changes": changes, "draft": draft,
         "can_edit": role_allows(request.role, "journeys.edit")},
    )  # fmt: skip


@workspace_required("journeys.edit")
@require_POST
def editor_restore(request, pk, number):
    journey = _journey(request, pk)
    version = get_object_or_404(JourneyVersion, journey=journey, number=number)
    try:
        draft_restore(journey=journey, actor=Actor.for_user(request.user), version=version)
    except ValidationError as exc:
        for message in exc.messages:
            flash.error(request, message)
    else:
        flash.success(request, f"Version {number} restored into the draft.")
    return redirect("editor", pk=journey.pk)


# --- live journeys ----------------------------------------------------------------------------


@workspace_required("journeys.view")
@require_GET
def editor_counts(request, pk):
    """Per node: entered and waiting now; per exit: how many took it (the engine's counters)."""
    journey = _journey(request, pk)
    return JsonResponse({"status": journey.status, "counts": counters_for(journey.pk)})


@workspace_required("journeys.view")
@require_GET
def editor_contacts(request, pk):
    """Recent contacts that passed a node, with their latest reply."""
    from ..models import Step

    journey = _journey(request, pk)
    node = request.GET.get("node", "")
    steps = (
        Step.objects.filter(journey=journey, node=node)
        .select_related("enrollment__contact")
        .order_by("-id")[:20]
    )
    return TemplateResponse(request, "journeys/editor_contacts.html", {"steps": steps, "node": node})


@workspace_required("journeys.view")
def editor_experiment(request, pk):
    """The experiment of a split node, in its panel: live status, the essentials (hypothesis,
    primary goal) editable with `experiments.edit`, the sample plan and a link to its page. The
    experiment is made when the draft with the node is saved (`experiment_sync`)."""
    journey = _journey(request, pk)
    node_id = request.POST.get("node") or request.GET.get("node", "")
    experiment = experiment_selectors.experiment_for_node(workspace=request.workspace, journey_id=journey.pk,
                                                          node=node_id)  # fmt: skip
    can_edit = role_allows(request.role, "experiments.edit") and request.GET.get("readonly") != "1"
    errors: dict = {}
    values = None
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied(f"Your role ({request.role}) does not allow editing experiments.")
        if experiment is None:
            raise Http404("This split has no experiment yet: save the journey first.")
        changes, errors, values = essentials_from_post(experiment, request.POST)
        if not errors:
            try:
                experiment_update(experiment=experiment, actor=Actor.from_request(request), data=changes)
            except ValidationError as exc:
                errors = exc.message_dict if hasattr(exc, "error_dict") else {"hypothesis": exc.messages}
            else:
                values = None
    now = timezone.now()
    context = {"journey": journey, "node_id": node_id, "experiment": experiment, "errors": errors,
               "can_edit": can_edit}  # fmt: skip
    if experiment is not None:
        context.update(
            values=values or design_values(experiment),
            row=presenting.list_row(experiment, journey_name=journey.name, now=now),
            plan=presenting.plan(experiment, now=now),
            events=event_names(workspace=request.workspace),
        )
    template = "journeys/editor_experiment.html"
    if request.GET.get("part") == "status":
        template += "#status"
    # htmx swaps only successful answers: the panel's form gets its errors with a 200
    return TemplateResponse(request, template, context, status=400 if errors and not request.htmx else 200)
