"""Test runs from the editor: the DRAFT (never published, or changed since) runs for one test
contact. Starting validates the draft, freezes it as a test snapshot (a JourneyVersion with
`is_test`, `published_at` set and no number: frozen like any published version, never live,
not in the version history) and enrols the contact in it with `Enrollment.is_test`, whatever
the journey's status. Test enrolments never touch the journey's counters. The engine's worker
does the stepping; the helpers here only set what it looks at: the path, fire the current
wait now, send an event, restart."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction

from contacts.models import Contact
from contacts.services import event_record
from cpaas.audit import audit_record
from cpaas.locks import lock_refresh
from cpaas.tenancy import Actor

from ..models import Enrollment, Journey, JourneyVersion, Step
from ..services import JourneyInvalid, draft_for
from ..validation import validate_graph

S = Enrollment.Status


def test_enrollment(*, journey: Journey, contact: Contact) -> Enrollment | None:
    """The contact's latest test enrolment in this journey."""
    return Enrollment.objects.filter(journey=journey, contact=contact, is_test=True).order_by("-id").first()


def test_snapshot(*, journey: Journey, graph: dict, now: dt.datetime, user=None) -> JourneyVersion:
    """A frozen copy of `graph` for test runs: the latest test snapshot when its graph is the
    same, a new one otherwise (an edited draft never changes what a running test walks)."""
    latest = JourneyVersion.objects.filter(journey=journey, is_test=True).order_by("-id").first()
    if latest is not None and latest.graph == graph:
        return latest
    return JourneyVersion.objects.create(
        journey=journey, is_test=True, number=None, published_at=now, graph=graph, author=user,
        note="test run",
    )  # fmt: skip


def _end_test(enrollment: Enrollment, now: dt.datetime, reason: str) -> None:
    """Cancel an open test enrolment without counters (tests are never counted)."""
    Enrollment.objects.filter(pk=enrollment.pk, status__in=Enrollment.OPEN).update(
        status=S.CANCELLED, ended_at=now, end_reason=reason[:300], due_at=None, resume=None,
        active_lock=None, wait_kind="", wait_event="", wait_match={}, wait_until=None,
    )  # fmt: skip


@transaction.atomic
def test_run_start(*, journey: Journey, contact: Contact, actor: Actor, now: dt.datetime) -> Enrollment:
    """Run the journey's draft for `contact`: refuses with JourneyInvalid (the problems) when the
    draft is not valid; cancels the contact's earlier open test enrolment in this journey."""
    journey = lock_refresh(journey)
    if journey.status == Journey.Status.ARCHIVED:
        raise ValidationError({"journey": ["An archived journey cannot be tested: duplicate it."]})
    if contact.workspace_id != journey.workspace_id:
        raise ValidationError({"contact": ["No such contact in this workspace."]})
    draft = draft_for(journey)
    problems = validate_graph(draft.graph, workspace=journey.workspace)
    if problems:
        raise JourneyInvalid(problems)
    user = actor.user if actor.kind == "user" else None
    snapshot = test_snapshot(journey=journey, graph=draft.graph, now=now, user=user)
    for earlier in (
        Enrollment.objects.select_for_update()
        .filter(journey=journey, contact=contact, is_test=True, status__in=Enrollment.OPEN)
        .order_by("pk")
    ):
        _end_test(earlier, now, "test run restarted")
    # the fields engine.enroll._new sets, for the snapshot instead of the live version; no
    # trigger key and no active lock, so a test never collides with the contact's real enrolment
    enrollment = Enrollment.objects.create(
        workspace_id=journey.workspace_id, journey_id=journey.pk, version=snapshot, contact_id=contact.pk,
        status=S.ACTIVE, node=snapshot.graph.get("start", ""), context={}, due_at=now, entered_at=now,
        expires_at=now + dt.timedelta(days=journey.expiry_days) if journey.expiry_days else None,
        trigger_key=None, active_lock=None, is_test=True,
    )  # fmt: skip
    audit_record(workspace=journey.workspace, actor=actor, action="journeys.journey.test_started", target=journey,
                 data={"contact": contact.pk, "version": snapshot.pk, "enrollment": enrollment.pk}, at=now)  # fmt: skip
    return enrollment


def test_path(*, journey: Journey, contact: Contact) -> dict:
    """The nodes the contact's latest test enrolment visited, in order, and where it is now."""
    e = test_enrollment(journey=journey, contact=contact)
    if e is None:
        return {"enrollment": None, "visited": [], "exits": [], "node": None, "status": None}
    steps = list(Step.objects.filter(enrollment=e).order_by("at", "id").values_list("node", "exit"))
    return {
        "enrollment": e.pk,
        "version": e.version_id,
        "visited": [n for n, _ in steps] + ([e.node] if e.is_open else []),
        "exits": [[n, x] for n, x in steps if x],
        "node": e.node,
        "status": e.status,
        "waiting": e.wait_kind if e.status == S.WAITING else "",
    }


@transaction.atomic
def test_wait_fire(*, journey: Journey, contact: Contact, now: dt.datetime) -> Enrollment:
    """The current wait's deadline becomes now: the engine takes its timeout path next round."""
    e = test_enrollment(journey=journey, contact=contact)
    if e is None or e.status != S.WAITING or e.wait_until is None:
        raise ValidationError({"wait": ["The test contact is not waiting on a timer."]})
    Enrollment.objects.filter(pk=e.pk, resume_token=e.resume_token).update(wait_until=now, due_at=now)
    return e


def test_event_send(*, journey: Journey, contact: Contact, name: str, properties: dict, now: dt.datetime):
    """Record an event for the test contact, exactly as the API would (the engine subscribes)."""
    if not name:
        raise ValidationError({"event": ["Name the event."]})
    return event_record(
        workspace=journey.workspace, contact=contact, name=name, properties=properties, occurred_at=now,
        source="editor",
    )  # fmt: skip


def test_restart(*, journey: Journey, contact: Contact, actor: Actor, now: dt.datetime) -> Enrollment:
    """Start the test again on the current draft (the open test enrolment is cancelled)."""
    return test_run_start(journey=journey, contact=contact, actor=actor, now=now)
