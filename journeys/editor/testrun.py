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


def _title(graph: dict, node_id: str) -> str:
    """A node as the canvas names it: its title, else its type's label."""
    from ..validation import node_title

    node = (graph.get("nodes") or {}).get(node_id)
    return node_title(node) if node else node_id


def _waiting_words(e: Enrollment, tz) -> str:
    if e.wait_kind == "timer" and e.wait_until:
        return f"a timer, until {e.wait_until.astimezone(tz):%Y-%m-%d %H:%M}"
    if e.wait_kind == "event":
        return f"the event '{e.wait_event}'"
    return {"reply": "a reply", "webhook": "the webhook's answer", "resolved": "an agent"}.get(
        e.wait_kind, e.wait_kind
    )


def _state_words(e: Enrollment, graph: dict, tz) -> str:
    """Where the test contact is, in words ("Waiting at 'Wait 1 day' for a timer, until …",
    "Finished: Not sent: No marketing opt-in on WhatsApp. …")."""
    here = f"'{_title(graph, e.node)}'"
    if e.status == S.WAITING:
        return f"Waiting at {here} for {_waiting_words(e, tz)}."
    if e.status == S.ACTIVE:
        return f"Running: at {here}."
    reason = e.end_reason or "end of path"
    return {
        S.COMPLETED: f"Finished: {reason}",
        S.FAILED: f"Failed at {here}: {reason}",
        S.CANCELLED: f"Stopped: {reason}",
    }.get(e.status, f"{e.get_status_display()}: {reason}")


def test_path(*, journey: Journey, contact: Contact, tz=None) -> dict:
    """The contact's latest test enrolment: the nodes it visited in order (for the canvas), each
    step in words with why (a send blocked or deferred by consent names its rule and reason),
    where it is now, and whether it has finished."""
    tz = tz or dt.UTC
    e = test_enrollment(journey=journey, contact=contact)
    if e is None:
        return {"enrollment": None, "visited": [], "exits": [], "node": None, "status": None, "steps": [],
                "state": "Not started.", "finished": False}  # fmt: skip
    graph = e.version.graph
    steps = list(Step.objects.filter(enrollment=e).order_by("at", "id"))
    return {
        "enrollment": e.pk,
        "version": e.version_id,
        "visited": [s.node for s in steps] + ([e.node] if e.is_open else []),
        "exits": [[s.node, s.exit] for s in steps if s.exit],
        "node": e.node,
        "status": e.status,
        "waiting": e.wait_kind if e.status == S.WAITING else "",
        "finished": not e.is_open,
        "state": _state_words(e, graph, tz),
        "steps": [
            {"node": s.node, "title": _title(graph, s.node), "exit": s.exit, "at": s.at.astimezone(tz).strftime("%H:%M:%S"),
             "reason": str((s.detail or {}).get("reason") or ""), "rule": str((s.detail or {}).get("rule") or "")}
            for s in steps
        ],
    }  # fmt: skip


TEST_TAG = "test contact"


def test_contact_create(*, workspace, actor: Actor, data: dict) -> Contact:
    """A test contact made in the test-run panel: name (first and last), phone (national format
    in the workspace's country), email; tagged "test contact", which lets the journey's testers
    record a test opt-in for it (`test_opt_in`)."""
    from contacts.services import contact_create
    from contacts.validation import name_split

    clean = {k: (data.get(k) or "").strip() for k in ("phone", "email")}
    clean = {k: v for k, v in clean.items() if v}
    if not (data.get("name") or "").strip():
        raise ValidationError({"name": ["Give the test contact a name."]})
    if not clean:
        raise ValidationError({"phone": ["Give a phone number or an email address to reach them on."]})
    return contact_create(workspace=workspace, actor=actor,
                          data={**name_split(data["name"]), **clean, "tags": [TEST_TAG]})  # fmt: skip


def test_opt_in(*, contact: Contact, channel_kind: str, purpose: str, actor: Actor, now: dt.datetime):
    """Record an opt-in for a test contact made in the panel (tagged "test contact"), so a
    tester can see a blocked send go through; anyone else's consent is an admin's to change."""
    from consent.models import Method, Status
    from consent.services import consent_change

    if not contact.tags.filter(name=TEST_TAG).exists():
        raise ValidationError({"contact": [
            f"{contact.display_name} is not a test contact made here: their consent is changed on their consent "
            "page, by an admin."]})  # fmt: skip
    who = actor.label
    return consent_change(
        contact=contact, channel_kind=channel_kind, purpose=purpose, status=Status.OPTED_IN, actor=actor,
        method=Method.WEB_FORM, at=now,
        reason=f"Test opt-in recorded by {who} in the journey editor's test run",
        evidence={"notice_text": f"Test contact made in the journey editor; opted in by {who} for a test run."},
    )  # fmt: skip


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
