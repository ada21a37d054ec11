"""The engine's round: claim due enrolments in a batch (SKIP LOCKED on PostgreSQL), run each
one's node handlers until it waits or ends, and write everything in the same transaction:
enrolment state, Steps, outbound Messages (the messaging batch send, consent checked there),
Events and counter deltas. A worker killed mid-round rolls all of it back; the next claimer
does the same work again, so nothing is lost or doubled.

Sends are batched across the round: a handler that sends returns `send(...)`; when every
enrolment of the round is waiting on a send, one `message_send_batch` per node (and channel,
purpose, options), each contact with their own rendered content, goes out and each handler
resumes with its message ("sent"). A/B splits are batched the same way: the experiments app
assigns every contact of the round at a split node in one call (`execute_assigns`). One contact's failure (a handler that raises, a template that
cannot render) fails that enrolment with the reason; the round goes on.

Editor test runs (`Enrollment.is_test`) are claimed even in a paused journey and their counter
deltas go to a throwaway CounterDeltas: they count nowhere.

The runaway guard bounds every enrolment across rounds (validation refuses loops that never
wait, but a graph may predate that, and a loop through a short wait is still valid): it fails
an enrolment that enters one node more than `JOURNEYS_MAX_NODE_VISITS` times without waiting,
or more than `JOURNEYS_MAX_STEPS_PER_WINDOW` nodes within `JOURNEYS_STEP_WINDOW_S`. Its counts
live on the enrolment (`guard`), so a loop cannot restart them by spilling into the next round."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from channels_app.consent_gate import message_words
from channels_app.models import Message
from cpaas.bulk import copy_values
from cpaas.tenancy import Actor
from experiments.assignment import ExposureDeltas, assign_batch

from ..merge import lookup, render
from ..models import Enrollment, Journey, PromiseToPay, Step
from ..nodes.base import Outcome, Signal, fail, pick_text
from .counters import CounterDeltas
from .graph import Graph, graphs_for

log = logging.getLogger("journeys.engine")
BATCH = 1000
S = Enrollment.Status
SEND_PASSES = 10


class Run:
    """What a handler sees: the contact, its node's config, the context, and a few helpers."""

    CONTACT_FIELDS = frozenset({"first_name", "last_name", "phone", "email", "language", "timezone",
                                "preferred_channel", "external_id", "is_vulnerable"})  # fmt: skip

    def __init__(self, item: Item, batch: Batch, node_id: str, config: dict):
        self.item, self.batch = item, batch
        self.enrollment = item.e
        self.contact = item.e.contact
        self.workspace = item.workspace
        self.journey = item.journey
        self.node_id = node_id
        self.config = config
        self.now = batch.now
        self.context = item.e.context
        self.state = item.e.state

    # rendering
    def render(self, template, extra=None):
        return render(
            template, contact=self.contact, event=self.context.get("event"), context=self.context, extra=extra
        )

    def pick(self, texts: dict) -> str:
        return pick_text(texts or {}, self.contact.language, self.workspace.default_language)

    def text(self, key: str = "template") -> str:
        return self.render(self.pick(self.config.get(key) or {}))

    def lookup_context(self, key: str):
        return lookup("context", [p for p in key.split(".") if p], context=self.context)

    # time
    def after(self, seconds) -> dt.datetime:
        return self.now + dt.timedelta(seconds=int(seconds))

    def contact_zone(self):
        for name in (self.contact.timezone, self.workspace.timezone, "UTC"):
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
        return dt.UTC

    # contact
    def contact_tags(self) -> set[str]:
        if self.item.tags is None:
            self.item.tags = set(self.contact.tags.values_list("name", flat=True))
        return self.item.tags

    def consent_allows(self, kind: str, purpose: str) -> bool:
        from channels_app import consent_gate

        return consent_gate.check(self.contact, kind, purpose, self.now).outcome == "allow"

    def channel_available(self, kind: str) -> bool:
        from channels_app.addresses import contact_address

        return kind in self.batch.channel_kinds(self.workspace.pk) and bool(
            contact_address(self.contact, kind)
        )

    def update_contact(self, data: dict) -> None:
        from contacts.services import contact_update

        contact_update(
            contact=self.contact, actor=Actor.system(f"journey {self.journey.name}"[:150]), data=data
        )
        self.item.tags = None

    # records
    def record_event(self, name: str, properties: dict) -> None:
        self.batch.events.append((self.item, name, properties))

    def create_promise(self, *, due_date, amount, currency, text) -> PromiseToPay:
        return PromiseToPay.objects.create(
            workspace=self.workspace, contact=self.contact, journey=self.journey, enrollment=self.enrollment,
            amount=amount, currency=currency or "", due_date=due_date, source_text=(text or "")[:500], created_at=self.now,
        )  # fmt: skip

    def adopt_promise(self) -> dict | None:
        """The contact's newest open promise that no journey holds yet (one a person recorded:
        journeys.services.promise_record), now this enrolment's; None when there is none."""
        from ..services.promises import contact_today, promise_json

        if self.enrollment.is_test:  # an editor test run never takes a real promise
            return None
        promise = (
            PromiseToPay.objects.filter(
                contact=self.contact,
                status=PromiseToPay.Status.PROMISED,
                enrollment__isnull=True,
                due_date__gte=contact_today(self.contact, self.now),
            )
            .order_by("-created_at", "-id")
            .first()
        )
        if promise is None:
            return None
        taken = PromiseToPay.objects.filter(pk=promise.pk, enrollment__isnull=True).update(
            enrollment=self.enrollment, journey=self.journey
        )
        return promise_json(promise) if taken else None

    def settle_promise(self, status: str) -> None:
        promise = (self.state.get("promise") or {}).get("id")
        if promise:
            PromiseToPay.objects.filter(pk=promise, status=PromiseToPay.Status.PROMISED).update(
                status=status, settled_at=self.now
            )


@dataclass
class Item:
    e: Enrollment
    graph: Graph
    journey: Journey
    workspace: object
    action: str = ""  # enter | signal | "" (nothing to do)
    signal: Signal | None = None
    waiting_at: str = ""  # the node it was waiting at when the round began
    pending_send: object = None
    tags: set | None = None
    changed: bool = False
    started_webhook: bool = False
    loaded: tuple = ()  # (context json, state json, steps_count, resume_token) as claimed
    # where this enrolment's counter deltas go: the round's, or (an editor test run, never
    # counted) a throwaway one; set by process()
    counters: CounterDeltas | None = None


@dataclass
class Guard:
    """The runaway guard's limits (settings), read once per round."""

    max_visits: int
    max_steps: int
    window_s: float

    @classmethod
    def from_settings(cls) -> Guard:
        return cls(
            settings.JOURNEYS_MAX_NODE_VISITS,
            settings.JOURNEYS_MAX_STEPS_PER_WINDOW,
            float(settings.JOURNEYS_STEP_WINDOW_S),
        )


@dataclass
class Batch:
    now: dt.datetime
    guard: Guard = field(default_factory=Guard.from_settings)
    steps: list = field(default_factory=list)
    events: list = field(default_factory=list)
    counters: CounterDeltas = field(default_factory=CounterDeltas)
    exposures: ExposureDeltas = field(default_factory=ExposureDeltas)  # A/B arm counts
    calls: list = field(default_factory=list)  # (enrollment id, token, request) for after commit
    _kinds: dict = field(default_factory=dict)

    def channel_kinds(self, workspace_id: int) -> set[str]:
        if workspace_id not in self._kinds:
            from channels_app.models import Channel

            self._kinds[workspace_id] = set(
                Channel.objects.filter(workspace_id=workspace_id, status="active").values_list(
                    "kind", flat=True
                )
            )
        return self._kinds[workspace_id]

    def flush_counts(self) -> None:
        """The shared count rows, last in the transaction (every engine's rounds add to them):
        A/B arm exposures, then the journey counters; each in key order."""
        self.exposures.flush()
        self.counters.flush()


# --- one enrolment ------------------------------------------------------------------------------


STEP_COLUMNS = ["enrollment_id", "journey_id", "node", "node_type", "exit", "at", "detail"]


def _step(batch: Batch, item: Item, node_id: str, node_type: str, exit_: str, detail: dict) -> None:
    # a plain row, not a Step instance (a round writes thousands): see cpaas.bulk
    item.e.steps_count += 1
    batch.steps.append(
        (item.e.pk, item.e.journey_id, node_id, node_type, exit_, batch.now, _json_text(detail))
    )


def _json_text(value) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return json.dumps(value, default=str)


def _json_safe(value):
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


def _clear_wait(e: Enrollment) -> None:
    e.wait_kind, e.wait_event, e.wait_match, e.wait_until, e.waiting_since = "", "", {}, None, None
    e.resume = None


def finish(batch: Batch, item: Item, status: str, reason: str = "") -> None:
    e = item.e
    if item.waiting_at:
        item.counters.add(e.journey_id, item.waiting_at, "waiting", -1)
        item.waiting_at = ""
    e.status, e.ended_at, e.end_reason = status, batch.now, reason[:300]
    _clear_wait(e)
    e.due_at, e.active_lock, e.state, e.guard = None, None, {}, {}
    item.counters.add(e.journey_id, "", "active", -1)
    item.counters.add(e.journey_id, "", status, 1)
    item.action, item.changed = "", True


def _leave_wait(batch: Batch, item: Item) -> None:
    if item.waiting_at:
        item.counters.add(item.e.journey_id, item.waiting_at, "waiting", -1)
        item.waiting_at = ""


def runaway(batch: Batch, item: Item, node_id: str) -> str:
    """Count one entry into `node_id` against the runaway guard; the reason to stop, or ""."""
    limits, g, now = batch.guard, item.e.guard, batch.now.timestamp()
    if "w" not in g or now - g["w"] >= limits.window_s:
        g["w"], g["n"] = now, 0
    g["n"] += 1
    visits = g.setdefault("v", {})
    visits[node_id] = visits.get(node_id, 0) + 1
    if visits[node_id] > limits.max_visits:
        return f"loop guard: entered '{node_id}' {limits.max_visits} times without waiting"
    if g["n"] > limits.max_steps:
        return f"loop guard: more than {limits.max_steps} steps within {limits.window_s:g} s"
    return ""


def fail_at(batch: Batch, item: Item, node_id: str, node_type: str, reason: str, detail=None) -> None:
    """Fail the enrolment at a node: a step with the reason (the contact's history), the node's
    `failed` counter (the canvas), the journey's."""
    _leave_wait(batch, item)
    _step(batch, item, node_id, node_type, "", {**(detail or {}), "reason": reason})
    item.counters.add(item.e.journey_id, node_id, "failed")
    finish(batch, item, S.FAILED, reason)


def drive(batch: Batch, item: Item) -> None:
    """Run handlers until the enrolment waits, ends, or needs a send."""
    e = item.e
    item.changed = True
    while item.action in ("enter", "signal"):
        node = item.graph.node(e.node)
        spec = item.graph.spec(e.node)
        if node is None or spec is None:
            finish(batch, item, S.FAILED, f"node '{e.node}' is missing from version {e.version_id}")
            return
        if item.action == "enter":
            reason = runaway(batch, item, e.node)
            if reason:
                fail_at(batch, item, e.node, node["type"], reason)
                return
        run = Run(item, batch, e.node, node.get("config") or {})
        try:
            if item.action == "enter":
                item.counters.add(e.journey_id, e.node, "entered")
                outcome = spec.enter(run)
            else:
                outcome = spec.resume(run, item.signal)
        except Exception as exc:  # a failing handler fails this contact only
            log.warning(
                "journey %s node %s failed for enrolment %s: %s",
                e.journey_id,
                e.node,
                e.pk,
                exc,
                exc_info=True,
            )
            outcome = fail(f"{node['type']} failed: {exc}"[:300])
        item.signal = None
        apply_outcome(batch, item, node, outcome)


def apply_outcome(batch: Batch, item: Item, node: dict, outcome: Outcome) -> None:
    e = item.e
    if outcome.kind == "send":
        item.pending_send = outcome.send
        item.action = "send"
        return
    if outcome.kind == "assign":  # an A/B split: assigned with the round's other arrivals
        item.action = "assign"
        return
    if outcome.kind == "next":
        _leave_wait(batch, item)
        _step(batch, item, e.node, node["type"], outcome.exit, outcome.detail)
        item.counters.add(e.journey_id, e.node, f"exit:{outcome.exit}")
        exits = node.get("exits") or {}
        target = exits.get(outcome.exit)
        _clear_wait(e)
        e.state = {}
        if target is None:
            reason = "end of path" if outcome.exit in exits else f"exit '{outcome.exit}' is not connected"
            if outcome.detail.get("reason"):  # say why (a blocked send), not only that it ended
                reason = f"{outcome.detail['reason']} ({reason} after the '{outcome.exit}' exit)"
            finish(batch, item, S.COMPLETED, reason)
            return
        e.node, e.status, e.due_at = target, S.ACTIVE, None
        item.action = "enter"
        return
    if outcome.kind == "wait":
        was_waiting_here = item.waiting_at == e.node
        if not was_waiting_here:
            _leave_wait(batch, item)
            item.counters.add(e.journey_id, e.node, "waiting", 1)
        item.waiting_at = e.node
        e.status = S.WAITING
        e.wait_kind, e.wait_event, e.wait_match = outcome.wait, outcome.event, _json_safe(outcome.match)
        e.wait_until = outcome.until
        e.waiting_since = e.waiting_since if was_waiting_here and e.waiting_since else batch.now
        e.resume = None
        e.resume_token += 1
        e.due_at = _due(e)
        if outcome.until is None or outcome.until > batch.now:
            e.guard.pop("v", None)  # it really waits: visits start again
        if outcome.wait == "webhook":
            item.started_webhook = True
        item.action = ""
        return
    # end
    if outcome.status == S.FAILED:
        fail_at(batch, item, e.node, node["type"], outcome.reason, outcome.detail)
        return
    _step(
        batch,
        item,
        e.node,
        node["type"],
        "",
        {**outcome.detail, **({"reason": outcome.reason} if outcome.reason else {})},
    )
    finish(batch, item, outcome.status or S.COMPLETED, outcome.reason)


def _due(e: Enrollment):
    times = [t for t in (e.wait_until, e.expires_at) if t is not None]
    return min(times) if times else None


def prepare(batch: Batch, item: Item) -> None:
    """What this round does with the enrolment: a pending signal, a timeout, expiry, or enter."""
    e, now = item.e, batch.now
    if not e.is_open:  # ended meanwhile: a late signal or timer does nothing
        e.due_at, e.resume, item.changed = None, None, True
        return
    if e.status == S.WAITING:
        item.waiting_at = e.node
    resume = e.resume
    if e.expires_at and e.expires_at <= now and e.is_open:
        finish(batch, item, S.EXPIRED, "the journey's time limit passed")
        return
    if resume and resume.get("token") == e.resume_token:
        e.resume = None
        if resume.get("kind") == "goal":
            node_type = "goal"
            _leave_wait(batch, item)
            item.counters.add(e.journey_id, resume["node"], "entered")
            _step(
                batch,
                item,
                resume["node"],
                node_type,
                "",
                {"event_id": resume.get("event_id"), "reason": "goal event"},
            )
            finish(batch, item, S.GOAL, f"goal {resume.get('event', '')}")
            return
        if resume.get("kind") == "cancel":
            finish(batch, item, S.CANCELLED, resume.get("reason", "cancelled"))
            return
        item.action, item.signal = "signal", Signal(resume["kind"], resume.get("data") or {})
        return
    e.resume = None
    if e.status == S.WAITING:
        if e.wait_until and e.wait_until <= now:
            item.action, item.signal = "signal", Signal("timeout", {})
        else:
            e.due_at = _due(e)  # nothing due yet (a stale wake-up): sleep again
            item.changed = True
        return
    if e.status == S.ACTIVE:
        item.action = "enter"


# --- sends ---------------------------------------------------------------------------------------


def _send_key(item: Item) -> tuple:
    """What must be equal for sends to share one batch call: everything but the content (a
    personalised text differs per contact; the batch call takes one content per contact)."""
    r = item.pending_send
    return (
        item.workspace.pk,
        item.e.journey_id,
        item.e.node,
        item.e.is_test,
        json.dumps(r.channel),
        r.purpose,
        json.dumps(r.fallback),
        r.fallback_after_s,
        json.dumps(r.options, sort_keys=True),
    )


def execute_sends(batch: Batch, items: list[Item]) -> None:
    from channels_app.services.messages import message_send_batch

    groups: dict[tuple, list[Item]] = defaultdict(list)
    for item in items:
        groups[_send_key(item)].append(item)
    for group in groups.values():
        first = group[0]
        r = first.pending_send
        try:
            messages, skipped = message_send_batch(
                workspace=first.workspace, contacts=[i.e.contact for i in group], channel=r.channel,
                contents=[i.pending_send.content for i in group], purpose=r.purpose, fallback=r.fallback or None,
                fallback_after_s=r.fallback_after_s, origin=Message.Origin.JOURNEY,
                origin_ref=f"journey:{first.e.journey_id}/{first.e.node}",
                journey_id=None if first.e.is_test else first.e.journey_id,  # test runs are not counted
                options=r.options or None, now=batch.now,
            )  # fmt: skip
        except ValidationError as exc:
            reason = "; ".join(exc.messages)[:300]
            for item in group:
                item.action, item.signal, item.pending_send = (
                    "signal",
                    Signal("sent", {"skipped": reason}),
                    None,
                )
            continue
        by_contact: dict[int, list] = defaultdict(list)
        for m in messages:
            by_contact[m.contact_id].append(m)
        for item in group:
            cid = item.e.contact_id
            if by_contact.get(cid):
                m = by_contact[cid].pop(0)
                data = {"message_id": m.pk, "status": m.status, "channel": m.kind}
                words = message_words(m)  # blocked or deferred: the rule and reason, in words
                if words is not None:
                    data["reason"], data["rule"] = words.text, words.rule
                if m.status == Message.Status.BLOCKED and m.fallback_chain:
                    data["status"] = "fallback"  # the messaging core moves on to the next channel itself
            else:
                data = {"skipped": skipped.get(cid, "not sent")}
            item.action, item.signal, item.pending_send = "signal", Signal("sent", data), None


# --- A/B assignments ------------------------------------------------------------------------------


def execute_assigns(batch: Batch, items: list[Item]) -> None:
    """Every contact of the round at one split node asks the experiments app at once (one
    `assign_batch` per journey, node and kind of run); each handler resumes with its choice.
    Exposures count on the canvas here; the experiment's own counts are the experiments app's."""
    from experiments.services import experiment_for_node

    groups: dict[tuple, list[Item]] = defaultdict(list)
    for item in items:
        groups[(item.e.journey_id, item.e.node, item.e.is_test)].append(item)
    for (journey_id, node_id, is_test), group in groups.items():
        first = group[0]
        try:
            experiment = experiment_for_node(
                workspace=first.workspace, journey_id=journey_id, node=node_id,
                config=first.graph.node(node_id).get("config") or {},
                live=first.journey.status != Journey.Status.DRAFT, now=batch.now,
            )  # fmt: skip
            choices = assign_batch(experiment, [i.e.contact for i in group], now=batch.now, record=not is_test,
                                   exposures=batch.exposures)  # fmt: skip
        except ValidationError as exc:
            reason = "; ".join(exc.messages)[:300]
            for item in group:
                item.action, item.signal = "signal", Signal("assigned", {"error": reason})
            continue
        for item in group:
            choice = choices[item.e.contact_id]
            if choice.exposed:
                item.counters.add(journey_id, node_id, f"exposure:{choice.exit}")
            data = {"exit": choice.exit, "exposed": choice.exposed, "reason": choice.reason}
            if choice.defer_until:
                data["defer_until"] = choice.defer_until.isoformat()
            item.action, item.signal = "signal", Signal("assigned", data)


# --- the round -----------------------------------------------------------------------------------


def process(items: list[Item], now: dt.datetime) -> Batch:
    batch = Batch(now=now)
    for item in items:
        item.counters = CounterDeltas() if item.e.is_test else batch.counters
        prepare(batch, item)
    for _ in range(SEND_PASSES):
        for item in items:
            if item.action in ("enter", "signal"):
                drive(batch, item)
        assigning = [i for i in items if i.action == "assign"]
        sending = [i for i in items if i.action == "send"]
        if not assigning and not sending:
            break
        if assigning:
            execute_assigns(batch, assigning)
        if sending:
            execute_sends(batch, sending)
    for item in items:
        if item.action:  # still busy after the passes: continue next round
            e = item.e
            if item.action == "signal" and item.signal is not None:
                e.resume = {
                    "kind": item.signal.kind,
                    "token": e.resume_token,
                    "data": _json_safe(item.signal.data),
                }
            else:
                e.status = S.ACTIVE  # "enter" again ("send", "assign": it had not happened yet)
            e.due_at, item.action = now, ""
    return batch


def write(batch: Batch, items: list[Item], *, counters: bool = True) -> None:
    """Everything the round did, in the caller's transaction (counters last: their rows are
    shared by every engine working on the journey; `counters=False` leaves them to the caller)."""
    update_enrollments([i for i in items if i.changed])
    copy_values(Step, STEP_COLUMNS, batch.steps)
    if batch.events:
        from contacts.services import event_record

        for item, name, properties in batch.events:
            event_record(workspace=item.workspace, contact=item.e.contact, name=name, properties=_json_safe(properties),
                         source="journey", now=batch.now)  # fmt: skip
    if counters:
        batch.flush_counts()
    for item in items:
        if item.started_webhook and item.e.status == S.WAITING and item.e.wait_kind == "webhook":
            batch.calls.append((item.e.pk, item.e.resume_token, item.e.state.get("request")))


SHARED_FIELDS = ("status", "node", "wait_kind", "wait_event", "wait_match", "wait_until", "waiting_since",
                 "due_at", "resume", "ended_at", "end_reason", "active_lock", "guard")  # fmt: skip
JSON_FIELDS = frozenset({"wait_match", "resume", "guard"})


def update_enrollments(items: list[Item]) -> None:
    """Set-based: enrolments that end the round alike (same node, status, times; a round shares
    one `now`) are one `UPDATE ... WHERE id IN (...)`, counters as `F() + delta`; only contexts
    and node states that changed are written row by row (one UPDATE ... FROM VALUES on
    PostgreSQL). A batched CASE per row and field (bulk_update) is several times slower."""
    from django.db.models import F

    groups: dict[tuple, list[int]] = defaultdict(list)
    personal: list[Item] = []
    for item in items:
        e = item.e
        key = tuple(json.dumps(getattr(e, f), sort_keys=True, default=str) if f in JSON_FIELDS else getattr(e, f)
                    for f in SHARED_FIELDS)  # fmt: skip
        key += (e.steps_count - item.loaded[2], e.resume_token - item.loaded[3])
        groups[key].append(e.pk)
        if (
            json.dumps(e.context, sort_keys=True, default=str) != item.loaded[0]
            or json.dumps(e.state, sort_keys=True, default=str) != item.loaded[1]
        ):
            personal.append(item)
    for key, ids in groups.items():
        values = dict(
            zip(
                SHARED_FIELDS,
                (item_value(f, v) for f, v in zip(SHARED_FIELDS, key, strict=False)),
                strict=True,
            )
        )
        steps, tokens = key[-2], key[-1]
        for start in range(0, len(ids), 1000):
            Enrollment.objects.filter(pk__in=ids[start : start + 1000]).update(
                **values, steps_count=F("steps_count") + steps, resume_token=F("resume_token") + tokens
            )
    if not personal:
        return
    if connection.vendor != "postgresql":
        Enrollment.objects.bulk_update([i.e for i in personal], ["context", "state"], batch_size=200)
        return
    table = Enrollment._meta.db_table
    for start in range(0, len(personal), 500):
        chunk = personal[start : start + 500]
        params = []
        for item in chunk:
            params += [
                item.e.pk,
                json.dumps(item.e.context, default=str),
                json.dumps(item.e.state, default=str),
            ]
        values = ", ".join(["(%s::bigint, %s::jsonb, %s::jsonb)"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS t SET context = v.context, state = v.state FROM (VALUES {values}) AS v(id, context, state) "
                "WHERE t.id = v.id",
                params,
            )


def item_value(field_name: str, value):
    if field_name in JSON_FIELDS:
        return json.loads(value)
    return value


def items_for(enrollments: list[Enrollment]) -> list[Item]:
    graphs = graphs_for(e.version_id for e in enrollments)
    journeys = Journey.objects.select_related("workspace").in_bulk({e.journey_id for e in enrollments})
    items = []
    for e in enrollments:
        journey = journeys[e.journey_id]
        graph = graphs.get(e.version_id)
        if graph is None:  # not published: never happens through the services
            continue
        e.contact.workspace = journey.workspace
        loaded = (json.dumps(e.context, sort_keys=True, default=str), json.dumps(e.state, sort_keys=True, default=str),
                  e.steps_count, e.resume_token)  # fmt: skip
        items.append(Item(e=e, graph=graph, journey=journey, workspace=journey.workspace, loaded=loaded))
    return items


# A paused journey holds its contacts where they are; editor test runs go on regardless.
RUNNABLE = Q(is_test=True) | ~Q(journey__status=Journey.Status.PAUSED)


def claim(now: dt.datetime, limit: int, only: Q | None = None) -> list[Enrollment]:
    qs = (
        Enrollment.objects.filter(RUNNABLE, only or Q(), due_at__lte=now)
        .order_by("due_at", "id")
        .select_related("contact")
    )
    if connection.vendor == "postgresql":
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    return list(qs[:limit])


def run_round(*, now: dt.datetime | None = None, limit: int = BATCH, ahead: bool = False) -> tuple[int, list]:
    """Claim and advance one batch of due enrolments in one transaction. Returns (how many,
    webhook calls to make now that it committed). `ahead` (the engine's loop, where `now` is
    the clock): also start preparing the next timer storm in the background, to commit it at
    its instant (`ahead.py`)."""
    from . import ahead as lookahead

    now = now or timezone.now()
    calls = lookahead.kick(now) if ahead else []
    # read before opening a transaction: on SQLite BEGIN IMMEDIATE takes the write lock
    if not Enrollment.objects.filter(RUNNABLE, due_at__lte=now).exists():
        return 0, calls
    started = time.monotonic()
    with transaction.atomic():
        enrollments = claim(now, limit)
        if not enrollments:
            return 0, calls
        items = items_for(enrollments)
        batch = process(items, now)
        write(batch, items)
    lookahead.PACE.record(len(enrollments), time.monotonic() - started)
    return len(enrollments), calls + batch.calls


def run_pending(*, now: dt.datetime | None = None, rounds: int = 50) -> int:
    """Everything due at `now`, webhooks included, until nothing is left (tests, inline mode)."""
    from .webhooks import call_and_record

    total = 0
    for _ in range(rounds):
        n, calls = run_round(now=now)
        for call in calls:
            call_and_record(*call, now=now)
        total += n
        if not n:
            break
    return total
