"""A rate limit defers a person, never fails them: otp.verify waits and tries again when the
workspace's verification limits are reached (a bank's sign-up burst), and takes `failed` only
for a refusal (a country the workspace does not verify), never because of a limit."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache

from channels_app.models import Message, Verification
from channels_app.services.verify_policy import verify_policy_update
from cpaas.tenancy import Actor
from journeys.models import Enrollment, Step
from tests.factories import ContactFactory
from tests.journeys.conftest import T0, graph, node

pytestmark = pytest.mark.django_db


def valid(number: str) -> bool:
    import phonenumbers

    return phonenumbers.is_valid_number(phonenumbers.parse(number))


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def signup_journey(publish, **otp):
    return publish(
        graph(
            trigger=node("trigger.event", {"event": "signup"}, next="otp"),
            otp=node("otp.verify", {"channels": ["sms"], "expiry_s": 600, **otp},
                     verified=None, failed="support", expired=None),
            support=node("inbox.handoff", {"queue": "support"}, next=None),
        ),
        now=at(-60),
    )  # fmt: skip


def policy(workspace, **values):
    verify_policy_update(workspace=workspace, actor=Actor.system("test"), data=values, now=at(-60))


def failed_at_otp() -> list:
    return list(
        Step.objects.filter(node="otp", exit="failed").values_list("enrollment__contact_id", "detail")
    )


def test_over_the_workspace_rate_the_node_waits_and_tries_again(workspace, publish, fire, engine):
    policy(workspace, per_minute=2)
    signup_journey(publish)
    contacts = [ContactFactory(workspace=workspace, phone=f"+4474{i:02d}123456") for i in range(5)]
    for c in contacts:
        fire(c, "signup", now=at(0))
    engine(at(0))
    assert Verification.objects.count() == 2
    waiting = Enrollment.objects.filter(status="waiting", wait_kind="timer")
    assert waiting.count() == 3 and all(e.wait_until > at(0) for e in waiting)
    for second in range(5, 400, 5):
        engine(at(second))
    assert failed_at_otp() == []
    assert sorted(Verification.objects.values_list("contact_id", flat=True)) == sorted(c.pk for c in contacts)
    assert Message.objects.filter(purpose="otp").count() == 5
    # and the limit held: never more than 2 starts in any minute
    starts = sorted(Verification.objects.values_list("created_at", flat=True))
    assert all(b - a >= dt.timedelta(seconds=60) for a, b in zip(starts, starts[2:], strict=False))


def test_a_country_the_workspace_does_not_verify_fails_at_once(workspace, publish, fire, engine):
    policy(workspace, countries=["GB"])
    signup_journey(publish)
    c = ContactFactory(workspace=workspace, phone="+33612345678")
    fire(c, "signup", now=at(0))
    engine(at(0))
    [(contact_id, detail)] = failed_at_otp()
    assert contact_id == c.pk and "France" in detail["reason"]


def test_the_end_users_ip_comes_from_the_event(workspace, publish, fire, engine):
    policy(workspace, per_ip=1)
    signup_journey(publish, client_ip="{{event.ip}}")
    a = ContactFactory(workspace=workspace, phone="+447400123456")
    b = ContactFactory(workspace=workspace, phone="+447500123456")
    fire(a, "signup", now=at(0), ip="198.51.100.7")
    fire(b, "signup", now=at(0), ip="198.51.100.7")
    engine(at(0))
    assert list(Verification.objects.values_list("client_ip", flat=True)) == ["198.51.100.7"]
    assert Enrollment.objects.get(contact=b).wait_kind == "timer"  # deferred by the per-IP limit
    for second in range(30, 1300, 30):
        engine(at(second))
    assert Verification.objects.filter(contact=b).exists() and failed_at_otp() == []


def test_a_limit_that_never_frees_up_ends_in_failed_after_an_hour(workspace, publish, fire, engine):
    policy(workspace, per_number=1, resend_cooldown_s=0)
    signup_journey(publish)
    c = ContactFactory(workspace=workspace, phone="+447400123456")
    fire(c, "signup", now=at(1))
    for second in range(0, 5400, 60):
        if second % 300 == 0:  # something else keeps the number's window full
            Verification.objects.create(
                workspace=workspace, contact=c, address=c.phone, channels=["sms"], code_hash="x",
                expires_at=at(second + 600), created_at=at(second), status="canceled",
            )  # fmt: skip
        engine(at(second + 2))
        if failed_at_otp():
            break
    [(contact_id, detail)] = failed_at_otp()
    assert "rate limited" in detail["reason"] and second >= 3600


def test_a_sign_up_burst_through_the_events_api_never_fails_for_the_rate_limit(
    workspace, publish, engine, api, settings
):
    """The reported case, scaled to the test's size: sign-ups through the events API over 90 s,
    more than the workspace's per-minute rate, each sent on the way a code; none to the failed
    exit (the support hand-off) because of the rate limit."""
    settings.JOURNEYS_ENGINE_INLINE = False
    cache.clear()
    policy(workspace, per_minute=60)
    signup_journey(publish)
    numbers = [n for n in (f"+44{7400 + (i * 7) % 600}{i:06d}" for i in range(400)) if valid(n)][:180]
    per_batch = 20
    for b, second in enumerate(range(0, 90, 10)):
        events = [
            {"contact": {"phone": n}, "name": "signup", "idempotency_key": f"signup-{n}"}
            for n in numbers[b * per_batch : (b + 1) * per_batch]
        ]
        with time_machine.travel(at(second), tick=False):
            response = api.post("/api/v1/events/batch/", {"events": events}, format="json")
            assert response.status_code == 200, response.content
            engine(at(second))
    for second in range(90, 600, 10):
        with time_machine.travel(at(second), tick=False):
            engine(at(second))
    assert Enrollment.objects.count() == 180
    assert failed_at_otp() == []
    assert Verification.objects.count() == 180 and Message.objects.filter(purpose="otp").count() == 180
    assert not Enrollment.objects.filter(status__in=["completed", "failed"]).exists()  # all wait for codes
