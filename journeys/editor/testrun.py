"""Test runs from the editor, on the engine's own models and services: the path a test
contact took, fire its current wait now, send it an event, restart it. The engine's worker
does the stepping; these only set what it looks at."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction

from contacts.models import Contact
from contacts.services import event_record
from cpaas.tenancy import Actor

from ..models import Enrollment, Journey, Step
from ..services import enrollment_cancel, journey_start


def test_enrollment(*, journey: Journey, contact: Contact) -> Enrollment | None:
    return Enrollment.objects.filter(journey=journey, contact=contact).order_by("-id").first()


def test_path(*, journey: Journey, contact: Contact) -> dict:
    """The nodes the contact's latest enrolment visited, in order, and where it is now."""
    e = test_enrollment(journey=journey, contact=contact)
    if e is None:
        return {"enrollment": None, "visited": [], "exits": [], "node": None, "status": None}
    steps = list(Step.objects.filter(enrollment=e).order_by("at", "id").values_list("node", "exit"))
    return {
        "enrollment": e.pk,
        "visited": [n for n, _ in steps] + ([e.node] if e.is_open else []),
        "exits": [[n, x] for n, x in steps if x],
        "node": e.node,
        "status": e.status,
        "waiting": e.wait_kind if e.status == Enrollment.Status.WAITING else "",
    }


@transaction.atomic
def test_wait_fire(*, journey: Journey, contact: Contact, now: dt.datetime) -> Enrollment:
    """The current wait's deadline becomes now: the engine takes its timeout path next round."""
    e = test_enrollment(journey=journey, contact=contact)
    if e is None or e.status != Enrollment.Status.WAITING or e.wait_until is None:
        raise ValidationError({"wait": ["The test contact is not waiting on a timer."]})
    Enrollment.objects.filter(pk=e.pk, resume_token=e.resume_token).update(wait_until=now, due_at=now)
    return e


def test_event_send(*, journey: Journey, contact: Contact, name: str, properties: dict, now: dt.datetime):
    """Record an event for the test contact, exactly as the API would (the engine subscribes)."""
    return event_record(
        workspace=journey.workspace, contact=contact, name=name, properties=properties, occurred_at=now,
        source="editor",
    )  # fmt: skip


@transaction.atomic
def test_restart(*, journey: Journey, contact: Contact, actor: Actor, now: dt.datetime):
    e = test_enrollment(journey=journey, contact=contact)
    if e is not None and e.is_open:
        enrollment_cancel(enrollment=e, actor=actor, reason="test run restarted", now=now)
    return journey_start(journey=journey, actor=actor, contact_ids=[contact.pk], now=now)
