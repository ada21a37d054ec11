"""What the engine hears on the bus (cpaas.bus), inside the transaction that recorded the event:

- a reply (`message.received`) resumes the contact's newest enrolment waiting for a reply;
- any event resumes enrolments waiting for it (and matching its properties) and reaches goals;
- an event enrols the contact in every live journey it triggers, a keyword in every live
  keyword journey whose keyword it starts with (not when the reply was consumed by a wait, nor
  when it was a consent keyword: STOP and HELP reach no journey at all).

Resumes only record a signal and mark the enrolment due now, under its row lock, and only if
its resume token still matches and no other signal is pending: the first of a reply and a
timeout (or of two replies) wins; the loser finds the token changed and does nothing.

`on_events` is the batch form (`cpaas.bus.subscribe_many`): the events of one batch are handled
with a few queries whatever their number, with exactly the outcome of handling them one by one.
Only an event that is its contact's one event in the batch, that is not a reply, and that none
of its contact's open enrolments waits for or has a goal on, takes the set path (nothing to
resume, and the entry rules depend only on rows that existed before the batch); every other
event goes through `on_event`, in order."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import Enrollment, Journey
from ..nodes import REGISTRY
from ..nodes.trigger_event import property_matches
from .counters import CounterDeltas
from .enroll import blocked_expression, enroll_events, enroll_one
from .graph import graphs_for

log = logging.getLogger("journeys.engine")
REPLY = "message.received"


def on_events(events: list) -> None:
    from collections import Counter

    events = list(events)
    per_contact = Counter(e.contact_id for e in events)
    alone = {e.contact_id for e in events if per_contact[e.contact_id] == 1 and e.name != REPLY}
    if len(alone) > 1:
        alone -= _interested(events, alone)
    else:
        alone = set()  # one event: on_event is as cheap
    by_set = [e for e in events if e.contact_id in alone]
    for event in events:
        if event.contact_id not in alone:
            on_event(event, inline=False)
    if by_set:
        enroll_for_events(by_set)
    if events and getattr(settings, "JOURNEYS_ENGINE_INLINE", False):
        from .runner import run_pending

        transaction.on_commit(lambda: run_pending(now=timezone.now()))


def _interested(events: list, contact_ids: set[int]) -> set[int]:
    """Contacts with an open enrolment the event might resume or reach a goal of (waiting for an
    event of that name, or a goal node on it; properties are not looked at, so this may say yes
    where `resume_for_event` would find nothing, never the reverse). The others' events resume
    nothing, and their entry rules are read with the set (`blocked_contacts`)."""
    name_of = {e.contact_id: e.name for e in events if e.contact_id in contact_ids}
    rows = list(
        Enrollment.objects.filter(contact_id__in=contact_ids, status__in=Enrollment.OPEN).values_list(
            "contact_id", "version_id", "status", "wait_event"
        )
    )
    graphs = graphs_for(r[1] for r in rows)
    interested = set()
    for contact_id, version_id, status, wait_event in rows:
        name = name_of[contact_id]
        graph = graphs.get(version_id)
        if (status == Enrollment.Status.WAITING and wait_event == name) or (
            graph is None or any(config.get("event") == name for _, config in graph.goals())
        ):
            interested.add(contact_id)
    return interested


def on_event(event, inline: bool = True) -> None:
    # due at the event's time when it is earlier (a test's clock, a slightly older event)
    now = min(timezone.now(), event.occurred_at)
    props = event.properties or {}
    # STOP and HELP belong to the consent registry alone; an opt-in word (YES, START) still
    # answers a waiting question, but starts no keyword journey
    keyword = props.get("keyword", "") if event.name == REPLY else ""
    consumed = False
    if keyword not in ("stop", "help"):
        consumed = resume_for_event(event, now)
    if not (event.name == REPLY and (consumed or keyword)):
        enroll_for_event(event, now)
    if inline and getattr(settings, "JOURNEYS_ENGINE_INLINE", False):
        from .runner import run_pending

        transaction.on_commit(lambda: run_pending(now=timezone.now()))


def _matches(wanted: dict, props: dict) -> bool:
    return all(str(props.get(k)) == str(v) for k, v in (wanted or {}).items())


def resume_for_event(event, now) -> bool:
    """Returns True when a reply was taken by a waiting enrolment."""
    rows = list(
        Enrollment.objects.filter(contact_id=event.contact_id, status__in=Enrollment.OPEN).values(
            "pk",
            "journey_id",
            "version_id",
            "status",
            "wait_kind",
            "wait_event",
            "wait_match",
            "waiting_since",
        )
    )
    if not rows:
        return False
    graphs = graphs_for(r["version_id"] for r in rows)
    props = event.properties or {}
    signals: dict[int, dict] = {}
    reply_candidates = []
    for r in rows:
        if r["status"] == Enrollment.Status.WAITING:
            if r["wait_event"] == event.name and _matches(r["wait_match"], props):
                signals[r["pk"]] = {
                    "kind": "event",
                    "data": {**props, "name": event.name, "event_id": event.pk, "properties": props},
                }
            elif event.name == REPLY and r["wait_kind"] == "reply":
                reply_candidates.append(r)
        graph = graphs.get(r["version_id"])
        if graph and r["pk"] not in signals:
            for node_id, config in graph.goals():
                if config.get("event") == event.name and property_matches(config.get("filter"), props):
                    signals[r["pk"]] = {
                        "kind": "goal",
                        "node": node_id,
                        "event": event.name,
                        "event_id": event.pk,
                    }
                    break
    if reply_candidates:
        newest = max(reply_candidates, key=lambda r: (r["waiting_since"] or now, r["pk"]))
        data = {"text": props.get("text", ""), "button": props.get("button", ""), "message_id": props.get("message_id"),
                "channel": props.get("channel", ""), "event_id": event.pk}  # fmt: skip
        signals.setdefault(newest["pk"], {"kind": "reply", "data": data})
    if not signals:
        return False
    journeys = Journey.objects.in_bulk({r["journey_id"] for r in rows if r["pk"] in signals})
    consumed = False
    deltas = CounterDeltas()
    for e in Enrollment.objects.select_for_update().filter(pk__in=sorted(signals)).order_by("pk"):
        signal = signals[e.pk]
        if not e.is_open or e.resume:
            continue  # ended, or another signal is already pending: the first wins
        if signal["kind"] == "goal":
            if not journeys[e.journey_id].exit_on_goal:
                if not e.is_test:  # editor test runs are never counted
                    deltas.add(e.journey_id, signal["node"], "entered")
                    deltas.add(e.journey_id, "", "goal_conversions")
                continue
        elif e.status != Enrollment.Status.WAITING:
            continue
        elif signal["kind"] == "reply" and e.wait_kind != "reply":
            continue
        Enrollment.objects.filter(pk=e.pk).update(resume={**signal, "token": e.resume_token}, due_at=now)
        consumed = consumed or signal["kind"] == "reply"
    deltas.flush()
    return consumed


def enroll_for_event(event, now) -> int:
    props = event.properties or {}
    if event.name == REPLY:
        journeys = Journey.objects.filter(
            workspace_id=event.workspace_id, status=Journey.Status.LIVE, trigger_kind="keyword"
        )
    else:
        journeys = Journey.objects.filter(
            workspace_id=event.workspace_id,
            status=Journey.Status.LIVE,
            trigger_kind="event",
            trigger_key=event.name,
        )
    count = 0
    # one query: the journeys, and whether their entry rules keep the contact out; the graphs
    # come from the per-process cache of published versions (one query for those not cached)
    journeys = journeys.exclude(live_version=None).defer("description")
    open_to = [j for j in journeys.annotate(blocked=blocked_expression(event.contact_id)) if not j.blocked]
    graphs = graphs_for(j.live_version_id for j in open_to)
    deltas = CounterDeltas()  # one counter upsert for every journey the event enrols in
    for journey in open_to:
        graph = graphs.get(journey.live_version_id)
        if graph is None:
            continue
        start = graph.nodes[graph.start]
        spec = REGISTRY[start["type"]]
        if event.name == REPLY:
            if not spec.matches(start["config"], props.get("text", ""), props.get("channel", "")):
                continue
        elif not spec.matches(start["config"], event):
            continue
        context = {"event": {**props, "name": event.name, "id": event.pk}}
        if enroll_one(
            journey=journey,
            contact_id=event.contact_id,
            now=now,
            context=context,
            trigger_key=f"event:{event.pk}",
            rules_checked=True,
            deltas=deltas,
        ):
            count += 1
    deltas.flush()
    return count


def enroll_for_events(events: list) -> int:
    """`enroll_for_event` for many events (not replies), each its contact's only one and none of
    them with an open enrolment: one query for the journeys their names trigger, then per
    journey one query for the entry rules and one insert (`enroll_events`)."""
    names = {e.name for e in events}
    journeys = list(
        Journey.objects.filter(
            workspace_id__in={e.workspace_id for e in events},
            status=Journey.Status.LIVE,
            trigger_kind="event",
            trigger_key__in=names,
        )
        .exclude(live_version=None)
        .defer("description")
    )
    if not journeys:
        return 0
    graphs = graphs_for(j.live_version_id for j in journeys)
    deltas = CounterDeltas()
    count = 0
    for journey in journeys:
        graph = graphs.get(journey.live_version_id)
        if graph is None:
            continue
        start = graph.nodes[graph.start]
        spec = REGISTRY[start["type"]]
        wanted = [
            e
            for e in events
            if e.workspace_id == journey.workspace_id
            and e.name == journey.trigger_key
            and spec.matches(start["config"], e)
        ]
        count += enroll_events(journey=journey, events=wanted, now=timezone.now(), deltas=deltas)
    deltas.flush()
    return count
