"""History for the demo workspace (manage.py demo_data), made through the real services at
past instants (time is an argument everywhere), so the promise-to-pay and call warm-up reports
show the seeds' numbers: about 85 % paid within 7 days of the interactive message, and a
first-time pickup of about 25 % without a warm-up message against 55 % with one.

The script is fixed, not random: which contact replies, pays or picks up is decided by its place
in the list, so the numbers are the same on every machine."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from analytics.periods import workspace_zone
from channels_app.services.dispatch import dispatch_pending
from channels_app.services.simulator import simulator_reply
from contacts.models import Contact
from contacts.services import event_record
from cpaas.tenancy import Actor
from journeys.engine import audience_step, run_pending
from journeys.models import Journey
from journeys.services import journey_start

PTP_CONTACTS = 40  # 34 pay within 7 days: 85 %
WARMUP_CONTACTS = 40  # 20 warmed up (11 pick up: 55 %), 20 not (5 pick up: 25 %)


def _tick(at: dt.datetime) -> None:
    """One moment of the running system: audience starts, journeys, the dispatcher."""
    audience_step(now=at)
    run_pending(now=at)
    dispatch_pending(now=at)


def history_create(*, workspace, actor: Actor, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    tz = workspace_zone(workspace)

    def local(days_ago: int, hour: int, minute: int = 0) -> dt.datetime:
        day = now.astimezone(tz).date() - dt.timedelta(days=days_ago)
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz)

    people = _customers(workspace, PTP_CONTACTS + WARMUP_CONTACTS)
    _promise_to_pay(workspace, actor, people[:PTP_CONTACTS], local)
    _call_warmup(workspace, people[PTP_CONTACTS:], local)


def _customers(workspace, n: int) -> list[Contact]:
    """Collections customers of their own (SMS, not vulnerable), so the script's numbers do not
    depend on the other demo contacts' random channels."""
    first = ["Ada", "Bola", "Cyril", "Dina", "Emeka", "Fay", "Gus", "Hana", "Ivo", "Jade"]
    out = []
    for i in range(n):
        contact, _ = Contact.objects.get_or_create(
            workspace=workspace, external_id=f"COLL-{2000 + i}",
            defaults={"first_name": first[i % len(first)], "last_name": "Collections",
                      "phone": f"+4479112{i:05d}", "language": "en", "preferred_channel": "sms",
                      "timezone": workspace.timezone, "attributes": {"balance": 80 + 20 * (i % 10)}},
        )  # fmt: skip
        out.append(contact)
    return out


def _promise_to_pay(workspace, actor, people, local) -> None:
    """Asked 21 days ago at 10:00; 32 reply "in 2 days" an hour later. Of those, 26 pay on the
    day (kept), 3 three days late (broken, then paid through the payment link, still within the
    7 days) and 3 never. Of the 8 who do not reply, 5 pay the next day and 3 after 10 days."""
    journey = Journey.objects.filter(workspace=workspace, template_key="collections_promise_to_pay").first()
    if journey is None or journey.status != Journey.Status.LIVE or not people:
        return
    start = local(21, 10)
    journey_start(journey=journey, actor=actor, contact_ids=[c.pk for c in people], now=start,
                  idempotency_key="demo-history")  # fmt: skip
    _tick(start)
    repliers, silent = people[:32], people[32:]
    for c in repliers:
        text = f"in 2 days, {c.attributes['balance']}"
        simulator_reply(workspace=workspace, contact=c, kind="sms", text=text, now=local(21, 11))
    _tick(local(21, 11))
    payments = (
        [(c, local(20, 15)) for c in silent[:5]]
        + [(c, local(19, 12)) for c in repliers[:26]]
        + [(c, local(16, 12)) for c in repliers[26:29]]
        + [(c, local(11, 12)) for c in silent[5:]]
    )
    moments = sorted({at for _, at in payments} | {local(19, 9, 1), local(18, 9), local(17, 9)})
    for at in moments:
        for c, paid_at in payments:
            if paid_at == at:
                amount = c.attributes["balance"]
                event_record(workspace=workspace, contact=c, name="payment_completed", properties={"amount": amount},
                             occurred_at=at, source="demo", now=at)  # fmt: skip
        _tick(at)


def _call_warmup(workspace, people, local) -> None:
    """Ten days ago: 20 contacts get the warm-up message at 10:00 (a `call_scheduled` event
    starts the warm-up journey); at 14:00 an agent calls everyone once. The call outcomes are
    recorded as the voice provider's status callbacks record them."""
    journey = Journey.objects.filter(workspace=workspace, template_key="collections_call_warmup").first()
    if journey is None or journey.status != Journey.Status.LIVE or not people:
        return
    warmed, cold = people[: len(people) // 2], people[len(people) // 2 :]
    at = local(10, 10)
    for c in warmed:
        event_record(workspace=workspace, contact=c, name="call_scheduled", properties={"time": "14:00"},
                     occurred_at=at, source="demo", now=at)  # fmt: skip
    _tick(at)
    outcomes = ["call.answered"] * 11 + ["call.no_answer"] * 7 + ["call.busy"] * 2
    outcomes_cold = ["call.answered"] * 5 + ["call.no_answer"] * 12 + ["call.busy"] * 3
    for i, (group, results) in enumerate(((warmed, outcomes), (cold, outcomes_cold))):
        for j, (c, name) in enumerate(zip(group, results, strict=False)):
            when = local(10, 14, (j * 2 + i) % 60)
            event_record(workspace=workspace, contact=c, name=name, properties={"direction": "outbound"},
                         occurred_at=when, source="demo", now=when)  # fmt: skip
    _tick(local(10, 15))
