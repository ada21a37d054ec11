"""Journeys and their versions: create, edit the draft, publish (validate everything, freeze
the version), pause, resume, archive, duplicate. Each writes its audit entry."""

from __future__ import annotations

import copy
import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cpaas.audit import audit_record
from cpaas.locks import lock_refresh
from cpaas.models import Workspace
from cpaas.tenancy import Actor

from ..models import Enrollment, Journey, JourneyVersion
from ..nodes import TRIGGER_KINDS, split_ab, trigger_date, trigger_segment
from ..validation import trigger_of, validate_graph

GRAPH_MAX_BYTES = 1_000_000


class JourneyInvalid(ValidationError):
    """Publishing refused: `problems` lists them (node, field, message)."""

    api_code = "invalid_graph"

    def __init__(self, problems: list[dict]):
        self.problems = problems
        first = problems[0]
        super().__init__({"graph": [p.get("text") or self._words(p) for p in problems]})
        self.summary = f"{len(problems)} problem(s); first: {first.get('text') or self._words(first)}"

    @staticmethod
    def _words(p: dict) -> str:
        where = f"{p['node']}: " if p.get("node") else ""
        return f"{where}{p['field'] + ': ' if p.get('field') else ''}{p['message']}"


def empty_graph() -> dict:
    return {
        "schema": 1,
        "start": "trigger",
        "nodes": {
            "trigger": {
                "type": "trigger.manual",
                "config": {},
                "position": {"x": 40, "y": 40},
                "exits": {"next": "end"},
            },
            "end": {"type": "exit", "config": {}, "position": {"x": 40, "y": 200}, "exits": {}},
        },
    }


def _user(actor: Actor):
    return actor.user if actor.kind == "user" else None


def _clean_rules(data: dict, errors: dict) -> dict:
    out = {}
    for key in ("allow_reentry", "one_active", "exit_on_goal"):
        if key in data:
            if not isinstance(data[key], bool):
                errors[key] = ["true or false."]
            out[key] = data[key]
    if "expiry_days" in data:
        try:
            value = int(data["expiry_days"])
            if not 1 <= value <= 3650:
                raise ValueError
            out["expiry_days"] = value
        except (TypeError, ValueError):
            errors["expiry_days"] = ["A whole number of days from 1 to 3650."]
    return out


def _clean_purpose(workspace, value, errors: dict) -> str:
    """The journey's purpose: "" (each new message asks) or one of the workspace's purposes."""
    from ..validation import Context

    value = value.strip() if isinstance(value, str) else value
    if value in ("", None):
        return ""
    purposes = Context(workspace=workspace).purposes
    if value not in purposes:
        errors["purpose"] = [f"Unknown purpose '{value}': one of {', '.join(sorted(purposes))}, or blank."]
    return value if isinstance(value, str) else ""


def graph_purpose(graph: dict) -> str:
    """The one purpose a graph's message nodes share (OTP sends aside), or "" when they differ
    or there are none: what a journey made from a template takes as its purpose."""
    from ..nodes import REGISTRY

    found = {
        (n.get("config") or {}).get("purpose") or "transactional"
        for n in ((graph or {}).get("nodes") or {}).values()
        if isinstance(n, dict) and getattr(REGISTRY.get(n.get("type")), "purpose_from_journey", False)
    }
    found.discard("otp")
    return found.pop() if len(found) == 1 else ""


def _clean_name(workspace, name, journey=None, errors=None) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        errors["name"] = ["Give the journey a name."]
    elif len(name) > 120:
        errors["name"] = ["At most 120 characters."]
    elif (
        Journey.objects.filter(workspace=workspace, name=name)
        .exclude(pk=getattr(journey, "pk", None))
        .exists()
    ):
        errors["name"] = [f"A journey called '{name}' already exists."]
    return name


def _check_graph_shape(graph) -> None:
    import json

    if not isinstance(graph, dict):
        raise ValidationError({"graph": ["The graph must be a JSON object."]})
    if len(json.dumps(graph)) > GRAPH_MAX_BYTES:
        raise ValidationError({"graph": [f"At most {GRAPH_MAX_BYTES:,} bytes."]})


@transaction.atomic
def journey_create(
    *, workspace: Workspace, actor: Actor, name: str, description: str = "", graph: dict | None = None,
    rules: dict | None = None, template_key: str = "", purpose: str = "",
) -> Journey:  # fmt: skip
    errors: dict = {}
    name = _clean_name(workspace, name, errors=errors)
    purpose = _clean_purpose(workspace, purpose, errors)
    clean_rules = _clean_rules(rules or {}, errors)
    if len(description or "") > 500:
        errors["description"] = ["At most 500 characters."]
    if errors:
        raise ValidationError(errors)
    graph = copy.deepcopy(graph) if graph is not None else empty_graph()
    _check_graph_shape(graph)
    journey = Journey.objects.create(
        workspace=workspace, name=name, description=description or "", created_by=_user(actor),
        template_key=template_key, purpose=purpose, **clean_rules,
    )  # fmt: skip
    JourneyVersion.objects.create(journey=journey, graph=graph, author=_user(actor))
    audit_record(workspace=workspace, actor=actor, action="journeys.journey.created", target=journey,
                 data={"template": template_key} if template_key else {})  # fmt: skip
    _experiments_sync(journey, graph, actor, published=False)
    return journey


def _experiments_sync(journey: Journey, graph: dict, actor: Actor, *, published: bool, now=None) -> None:
    """One experiment per split.ab node, kept in step with the saved or published graph."""
    from experiments.services import experiment_sync

    nodes = split_ab.split_nodes(graph)
    if nodes or published:
        experiment_sync(workspace=journey.workspace, journey_id=journey.pk, journey_name=journey.name, nodes=nodes,
                        published=published, actor=actor, now=now)  # fmt: skip


@transaction.atomic
def journey_update(*, journey: Journey, actor: Actor, data: dict) -> Journey:
    errors: dict = {}
    changed = {}
    if "name" in data:
        changed["name"] = _clean_name(journey.workspace, data["name"], journey, errors)
    if "description" in data:
        if len(data["description"] or "") > 500:
            errors["description"] = ["At most 500 characters."]
        changed["description"] = data["description"] or ""
    changed.update(_clean_rules(data, errors))
    if "purpose" in data:
        changed["purpose"] = _clean_purpose(journey.workspace, data["purpose"], errors)
    if errors:
        raise ValidationError(errors)
    journey = _lock(journey)  # only the fields asked for: a copy read earlier must not undo a publish
    for key, value in changed.items():
        setattr(journey, key, value)
    journey.save(update_fields=[*changed, "updated_at"])
    audit_record(workspace=journey.workspace, actor=actor, action="journeys.journey.updated", target=journey,
                 data={"fields": sorted(changed)})  # fmt: skip
    return journey


def draft_for(journey: Journey) -> JourneyVersion:
    """The journey's draft; a new one (a copy of the live graph) when there is none. The live
    version is read from the database, never from `journey`: an object read before a publish
    would otherwise hand back a draft of the version before, and the next publish would undo
    the change."""
    draft = journey.versions.filter(published_at__isnull=True).first()
    if draft is not None:
        return draft
    live_id = Journey.objects.filter(pk=journey.pk).values_list("live_version_id", flat=True).first()
    published = journey.versions.exclude(number=None)
    base = published.filter(pk=live_id).first() if live_id else published.order_by("-number").first()
    with transaction.atomic():
        draft, _ = JourneyVersion.objects.get_or_create(
            journey=journey, published_at=None,
            defaults={"graph": copy.deepcopy(base.graph) if base else empty_graph()},
        )  # fmt: skip
    return draft


@transaction.atomic
def draft_save(*, journey: Journey, actor: Actor, graph: dict) -> tuple[JourneyVersion, list[dict]]:
    """Save the draft graph as it is (work in progress is allowed); returns its problems. The
    journey is locked, as publishing locks it, so a save never lands in a draft being published."""
    journey = _lock(journey)
    if journey.status == Journey.Status.ARCHIVED:
        raise ValidationError({"journey": ["An archived journey cannot be edited: duplicate it."]})
    _check_graph_shape(graph)
    draft = draft_for(journey)
    draft.graph = graph
    draft.author = _user(actor) or draft.author
    draft.save(update_fields=["graph", "author", "updated_at"])
    _experiments_sync(journey, graph, actor, published=False)
    return draft, validate_graph(graph, workspace=journey.workspace)


def _lock(journey: Journey) -> Journey:
    """Lock the journey and refresh the caller's object, so the caller sees what changes."""
    return lock_refresh(journey)


def schedule_next(journey: Journey, graph: dict, now: dt.datetime) -> dt.datetime | None:
    kind, config = trigger_of(graph)
    if kind == "trigger.segment":
        return trigger_segment.next_run(config, journey.workspace.timezone, now)
    if kind == "trigger.date_attribute":
        return trigger_date.next_run(config, journey.workspace.timezone, now)
    return None


def _set_trigger(journey: Journey, graph: dict, now) -> None:
    kind, config = trigger_of(graph)
    journey.trigger_kind = TRIGGER_KINDS.get(kind, "")
    journey.trigger_key = str(config.get("event", ""))[:100] if kind == "trigger.event" else ""
    journey.next_run_at = schedule_next(journey, graph, now)


@transaction.atomic
def journey_publish(
    *, journey: Journey, actor: Actor, note: str = "", now: dt.datetime | None = None
) -> JourneyVersion:
    """Validate the draft and publish it: it becomes the live version and never changes again.
    New contacts enter it; contacts already in the journey finish on the version they entered."""
    now = now or timezone.now()
    journey = _lock(journey)
    if journey.status == Journey.Status.ARCHIVED:
        raise ValidationError({"journey": ["An archived journey cannot be published: duplicate it."]})
    draft = journey.versions.filter(published_at__isnull=True).first()
    if draft is None:
        raise ValidationError({"graph": ["Nothing to publish: the live version has no changes."]})
    problems = validate_graph(draft.graph, workspace=journey.workspace)
    if problems:
        raise JourneyInvalid(problems)
    number = (
        journey.versions.exclude(number=None).order_by("-number").values_list("number", flat=True).first()
        or 0
    ) + 1
    draft.number, draft.published_at, draft.note = number, now, (note or "")[:300]
    draft.author = _user(actor) or draft.author
    JourneyVersion.objects.filter(pk=draft.pk).update(
        number=number, published_at=now, note=draft.note, author=draft.author
    )
    journey.live_version = draft
    if journey.status in (Journey.Status.DRAFT, Journey.Status.LIVE):
        journey.status = Journey.Status.LIVE
    _set_trigger(journey, draft.graph, now)
    journey.save()
    _experiments_sync(journey, draft.graph, actor, published=True, now=now)
    audit_record(workspace=journey.workspace, actor=actor, action="journeys.journey.published", target=journey,
                 data={"version": number, "note": draft.note}, at=now)  # fmt: skip
    return draft


def _status_change(journey, actor, allowed_from, to, action, now=None) -> Journey:
    journey = _lock(journey)
    if journey.status not in allowed_from:
        raise ValidationError(
            {"status": [f"A {journey.get_status_display().lower()} journey cannot be {action}."]}
        )
    journey.status = to
    if to == Journey.Status.LIVE and journey.live_version:
        journey.next_run_at = schedule_next(journey, journey.live_version.graph, now or timezone.now())
    journey.save(update_fields=["status", "next_run_at", "updated_at"])
    audit_record(
        workspace=journey.workspace, actor=actor, action=f"journeys.journey.{action}", target=journey
    )
    return journey


@transaction.atomic
def journey_pause(*, journey: Journey, actor: Actor) -> Journey:
    """No one enters, and contacts in it are held where they are until it resumes."""
    return _status_change(journey, actor, {Journey.Status.LIVE}, Journey.Status.PAUSED, "paused")


@transaction.atomic
def journey_resume(*, journey: Journey, actor: Actor, now: dt.datetime | None = None) -> Journey:
    return _status_change(journey, actor, {Journey.Status.PAUSED}, Journey.Status.LIVE, "resumed", now)


@transaction.atomic
def journey_archive(*, journey: Journey, actor: Actor, now: dt.datetime | None = None) -> Journey:
    """Ends it: no one enters, and the contacts still in it are cancelled."""
    from ..engine.counters import CounterDeltas

    now = now or timezone.now()
    journey = _status_change(journey, actor, {Journey.Status.DRAFT, Journey.Status.LIVE, Journey.Status.PAUSED},
                             Journey.Status.ARCHIVED, "archived")  # fmt: skip
    deltas = CounterDeltas()
    open_ = Enrollment.objects.filter(journey=journey, status__in=Enrollment.OPEN)
    for status, node, n in _open_counts(open_.filter(is_test=False)):  # tests are never counted
        deltas.add(journey.pk, "", "active", -n)
        deltas.add(journey.pk, "", "cancelled", n)
        if status == Enrollment.Status.WAITING:
            deltas.add(journey.pk, node, "waiting", -n)
    open_.update(status=Enrollment.Status.CANCELLED, ended_at=now, due_at=None, active_lock=None,
                 end_reason="journey archived")  # fmt: skip
    deltas.flush()
    journey.next_run_at = None
    journey.save(update_fields=["next_run_at"])
    return journey


def _open_counts(qs):
    from django.db.models import Count

    return [(r["status"], r["node"], r["n"]) for r in qs.values("status", "node").annotate(n=Count("id"))]


@transaction.atomic
def journey_duplicate(*, journey: Journey, actor: Actor, name: str = "") -> Journey:
    source = journey.versions.filter(published_at__isnull=True).first() or journey.live_version
    graph = source.graph if source else empty_graph()
    base = name or f"{journey.name} (copy)"
    candidate, n = base, 2
    while Journey.objects.filter(workspace=journey.workspace, name=candidate).exists():
        candidate, n = f"{base} {n}", n + 1
    return journey_create(
        workspace=journey.workspace, actor=actor, name=candidate, description=journey.description, graph=graph,
        purpose=journey.purpose, rules={k: getattr(journey, k) for k in ("allow_reentry", "one_active", "exit_on_goal", "expiry_days")},
    )  # fmt: skip


@transaction.atomic
def journey_from_template(*, workspace: Workspace, actor: Actor, key: str, name: str = "", publish: bool = False,
                          now: dt.datetime | None = None) -> Journey:  # fmt: skip
    from ..templates_catalogue import template_graph

    spec = template_graph(key, workspace=workspace)
    base = name or spec["name"]
    candidate, n = base, 2
    while Journey.objects.filter(workspace=workspace, name=candidate).exists():
        candidate, n = f"{base} {n}", n + 1
    journey = journey_create(workspace=workspace, actor=actor, name=candidate, description=spec["description"],
                             graph=spec["graph"], rules=spec.get("rules"), template_key=key,
                             purpose=graph_purpose(spec["graph"]))  # fmt: skip
    if publish:
        journey_publish(journey=journey, actor=actor, note=f"from template {key}", now=now)
    return journey
