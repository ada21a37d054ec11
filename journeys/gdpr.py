"""What the journey engine holds about a person, for GDPR export and erasure through cpaas.gdpr:
their enrolments (context, state, every step with its detail) and promises to pay (A/B
assignments are the experiments app's); audience runs list contact ids, from which theirs is removed."""

from __future__ import annotations

from cpaas.gdpr import Subject, register

from .models import AudienceRun, Enrollment, JourneyVersion, PromiseToPay, Step
from .services.enrollments import enrollment_cancel

ENROLLMENT_FIELDS = ("id", "journey_id", "journey__name", "version__number", "status", "node", "context",
                     "state", "wait_kind", "wait_event", "wait_until", "entered_at", "ended_at",
                     "end_reason", "is_test")  # fmt: skip
STEP_FIELDS = ("enrollment_id", "node", "node_type", "exit", "at", "detail")
PROMISE_FIELDS = ("id", "journey_id", "amount", "currency", "due_date", "status", "source_text",
                  "reminder_channel", "created_at", "settled_at")  # fmt: skip


def export(contact) -> dict:
    enrollments = list(
        Enrollment.objects.filter(contact=contact).order_by("entered_at", "id").values(*ENROLLMENT_FIELDS)
    )
    steps: dict[int, list] = {}
    for step in Step.objects.filter(enrollment__contact=contact).order_by("at", "id").values(*STEP_FIELDS):
        steps.setdefault(step.pop("enrollment_id"), []).append(step)
    for enrollment in enrollments:
        enrollment["steps"] = steps.get(enrollment["id"], [])
    return {
        "enrollments": enrollments,
        "promises_to_pay": list(
            PromiseToPay.objects.filter(contact=contact).order_by("created_at", "id").values(*PROMISE_FIELDS)
        ),
    }


def erase(subject: Subject) -> dict:
    contact = subject.contact
    enrollments = Enrollment.objects.filter(contact=contact)
    # Open ones are cancelled first, through the one service, so the canvas counters stay true.
    for enrollment in enrollments.filter(status__in=Enrollment.OPEN):
        enrollment_cancel(enrollment=enrollment, actor=subject.actor, reason="GDPR erasure", now=subject.at)
    subject.rows_erased(Enrollment, enrollments.values_list("pk", flat=True))
    steps = Step.objects.filter(enrollment__contact=contact).delete()[0]
    promises = PromiseToPay.objects.filter(contact=contact).delete()[0]
    enrollment_count = enrollments.delete()[1].get(Enrollment._meta.label, 0)
    runs = 0
    for run in AudienceRun.objects.filter(
        workspace_id=subject.workspace_id, source=AudienceRun.Source.CONTACTS
    ):
        if contact.pk in run.contact_ids:
            run.contact_ids = [pk for pk in run.contact_ids if pk != contact.pk]
            run.save(update_fields=["contact_ids"])
            runs += 1
    return {
        "enrollments": enrollment_count,
        "steps": steps,
        "promises_to_pay": promises,
        "audience_runs": runs,
    }


register(
    "journeys",
    export=export,
    erase=erase,
    covers=[Enrollment, Step, PromiseToPay],
    copies=[AudienceRun],
    unswept={JourneyVersion: "a published graph never changes (a database trigger refuses it)"},
)
