"""Raw rows for the analytics tests, written directly with chosen timestamps: messages in every
status with receipts' times, consent events, suppressions, enrolments and goal conversions."""

from __future__ import annotations

import datetime as dt
import random

from channels_app.models import Channel, Message
from consent.models import ConsentEvent, Suppression
from journeys.models import Enrollment, Journey, JourneyVersion
from tests.factories import ContactFactory

STATUSES = ["queued", "sent", "delivered", "delivered", "failed", "blocked", "read", "received"]
ERRORS = {"failed": ["30003", "30007", "21610"], "blocked": ["consent"]}


def journey(workspace, name="Welcome"):
    j = Journey.objects.create(workspace=workspace, name=name, status="live")
    v = JourneyVersion.objects.create(journey=j, number=1, graph={})
    Journey.objects.filter(pk=j.pk).update(live_version=v)
    return j, v


def message(workspace, contact, channel, created, status, *, journey_id=None, seed=0, **extra):
    rng = random.Random(seed)
    fields = dict(
        workspace=workspace,
        contact=contact,
        channel=channel,
        kind=channel.kind,
        address=contact.phone,
        text="hello",
        status=status,
        status_changed_at=created,
        created_at=created,
        journey_id=journey_id,
        segments=rng.choice([1, 1, 2]),
        purpose=rng.choice(["marketing", "transactional"]),
        direction="in" if status == "received" else "out",
    )
    if status in ("sent", "delivered", "read", "failed"):
        fields["sent_at"] = created + dt.timedelta(seconds=rng.uniform(0.05, 30))
    if status in ("delivered", "read"):
        fields["delivered_at"] = fields["sent_at"] + dt.timedelta(seconds=rng.uniform(0.5, 900))
    if status in ERRORS:
        fields["error_code"] = rng.choice(ERRORS[status])
    if status == "blocked":
        fields["consent_rule"] = rng.choice(["suppression", "no_consent", "frequency_cap"])
    fields.update(extra)
    return Message.objects.create(**fields)


def populate(workspace, *, around: dt.datetime, n: int = 120, seed: int = 1):
    """n messages, some consent events, suppressions, enrolments and conversions spread over
    the 30 hours around `around` (a local midnight), several on the very edge of an hour."""
    rng = random.Random(seed)
    channels = list(Channel.objects.filter(workspace=workspace, kind__in=["sms", "whatsapp", "email"]))
    people = [ContactFactory(workspace=workspace, phone=f"+44791155{i:04d}") for i in range(6)]
    j1, v1 = journey(workspace, "Welcome")
    j2, v2 = journey(workspace, "Collections")
    edges = [
        around,
        around - dt.timedelta(microseconds=1),
        around + dt.timedelta(hours=1),
        around - dt.timedelta(minutes=30),
    ]
    for i in range(n):
        if i < len(edges):
            created = edges[i]
        else:
            created = around + dt.timedelta(seconds=rng.uniform(-15 * 3600, 15 * 3600))
        jid = rng.choice([None, j1.pk, j2.pk])
        message(
            workspace,
            rng.choice(people),
            rng.choice(channels),
            created,
            rng.choice(STATUSES),
            journey_id=jid,
            seed=seed * 1000 + i,
        )
    for i in range(30):
        at = (
            edges[i % len(edges)]
            if i < 4
            else around + dt.timedelta(seconds=rng.uniform(-15 * 3600, 15 * 3600))
        )
        ConsentEvent.objects.create(
            workspace=workspace,
            contact=rng.choice(people),
            channel_kind=rng.choice(["sms", "email"]),
            purpose=rng.choice(["marketing", "collections"]),
            new_status=rng.choice(["opted_in", "opted_out"]),
            actor_type="system",
            actor_label="test",
            method=rng.choice(["keyword", "web_form"]),
            occurred_at=at,
            recorded_at=at,
            reason="test",
        )
    for i in range(8):
        Suppression.objects.create(
            workspace=workspace,
            channel_kind=rng.choice(["", "sms"]),
            address_kind="phone",
            address_hash=f"{i:064d}",
            reason=rng.choice(["keyword", "admin"]),
            created_by_label="test",
            created_at=around + dt.timedelta(seconds=rng.uniform(-15 * 3600, 15 * 3600)),
        )
    for i in range(40):
        j, v = rng.choice([(j1, v1), (j2, v2)])
        entered = around + dt.timedelta(seconds=rng.uniform(-15 * 3600, 14 * 3600))
        goal = rng.random() < 0.4
        Enrollment.objects.create(
            workspace=workspace,
            journey=j,
            version=v,
            contact=people[i % len(people)],
            status="goal" if goal else "completed",
            node="end",
            entered_at=entered,
            ended_at=entered + dt.timedelta(minutes=rng.uniform(1, 120)),
            is_test=(i % 13 == 12),
        )
    return {"journeys": [j1, j2], "people": people, "channels": channels}
