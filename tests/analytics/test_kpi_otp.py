"""OTP onboarding (issue 15 item 4) against a hand-computed fixture: verifications through the
real OTP service (codes, a resend moving to WhatsApp, checks), a journey whose expired codes go
to an agent, and the period's edge in a New York workspace."""

import datetime as dt
import re

import pytest

from analytics.kpis import otp_onboarding
from analytics.periods import Period, workspace_zone
from channels_app.models import Channel, Message, SandboxDelivery, Verification
from channels_app.services.dispatch import dispatch_pending
from channels_app.services.verify import verification_check, verification_resend, verification_start
from tests.analytics.conftest import utc
from tests.factories import ContactFactory
from tests.journeys.conftest import graph, node, reply

pytestmark = pytest.mark.django_db
T = utc(2026, 3, 2, 15)  # Monday 10:00 EST


def at(seconds):
    return T + dt.timedelta(seconds=seconds)


def period(ws, first=2, last=2):
    return Period(dt.date(2026, 3, first), dt.date(2026, 3, last), workspace_zone(ws))


def start(ws, channels, when):
    return verification_start(workspace=ws, contact=ContactFactory(workspace=ws), channels=channels, now=when)


def test_verification_rate_time_to_verify_and_fallback_by_channel(new_york):
    ws = new_york
    v1 = start(ws, ["sms"], at(0))
    verification_check(verification=v1, code=v1.code_for_tests, now=at(20))  # 20 s
    v2 = start(ws, ["sms"], at(0))
    verification_check(
        verification=v2, code="000000" if v2.code_for_tests != "000000" else "111111", now=at(5)
    )
    verification_check(verification=v2, code=v2.code_for_tests, now=at(40))  # a wrong code first; 40 s
    v3 = start(ws, ["sms", "whatsapp"], at(0))
    v3 = verification_resend(verification=v3, now=at(35))  # the next code on WhatsApp
    verification_check(verification=v3, code=v3.code_for_tests, now=at(60))  # 60 s, after a fallback
    start(ws, ["sms"], at(0))  # never entered: expires after 600 s
    start(ws, ["sms"], at(3000))  # still pending at `now`
    start(ws, ["sms"], utc(2026, 3, 2, 4, 59, 59))  # 1 March 23:59:59 EST: before the period
    # when
    report = otp_onboarding(workspace=ws, period=period(ws), now=at(3100))
    # then
    rows = {r["channel"]: r for r in report["by_channel"]}
    every = rows["all"]
    assert (every["started"], every["verified"], every["pending"], every["fallback"]) == (5, 3, 1, 1)
    assert (every["verification_rate"], every["fallback_rate"], every["verified_after_fallback"]) == (
        0.6,
        0.2,
        1,
    )
    assert (every["median_s"], every["p90_s"]) == (40.0, 60.0)
    sms = rows["sms"]
    assert (sms["started"], sms["verified"], sms["verification_rate"], sms["median_s"]) == (4, 2, 0.5, 30.0)
    wa = rows["whatsapp"]
    assert (wa["started"], wa["verified"], wa["median_s"], wa["fallback"]) == (1, 1, 60.0, 1)


def test_the_share_sent_to_support(new_york, publish, fire, tick):
    ws = new_york
    publish(graph(
        trigger=node("trigger.event", {"event": "signup"}, next="otp"),
        otp=node("otp.verify", {"channels": ["sms"], "expiry_s": 300}, verified=None, failed="agent", expired="agent"),
        agent=node("inbox.handoff", {"queue": "support"}, next=None),
    ))  # fmt: skip
    contacts = [ContactFactory(workspace=ws, timezone="America/New_York") for _ in range(3)]
    for c in contacts:
        fire(c, "signup", now=at(0))
    tick(at(0))
    first = Verification.objects.get(contact=contacts[0])
    # the code read off the phone, checked through the API: the journey hears it as otp.check
    sms = SandboxDelivery.objects.get(reference=first.last_message.reference)
    first_code = re.search(r"\d{6}", str(sms.content)).group(0)
    verification_check(verification=first, code=first_code, now=at(30))
    tick(at(30))
    tick(at(301))  # the two others expire: to an agent
    report = otp_onboarding(workspace=ws, period=period(ws), now=at(400))
    journeys = report["journeys"]
    assert (journeys["left_otp_node"], journeys["sent_to_support"]) == (3, 2)
    assert journeys["support_rate"] == round(2 / 3, 4)
    assert journeys["exits"] == {"expired": 2, "verified": 1}
    # the verifications the journey started are in the same report
    assert [(r["channel"], r["started"], r["verified"]) for r in report["by_channel"]] == [
        ("sms", 3, 1),
        ("all", 3, 1),
    ]


def test_a_dispatcher_fallback_counts_on_the_channel_that_carried_the_code(new_york):
    ws = new_york
    # the SMS provider accepts but never confirms delivery; the contact's WhatsApp window is open
    Channel.objects.filter(workspace=ws, kind="sms").update(settings={"sandbox": {"receipt": "none"}})
    contact = ContactFactory(workspace=ws)
    reply(contact, "hello", kind="whatsapp", now=at(-60))
    v = verification_start(workspace=ws, contact=contact, channels=["sms", "whatsapp"], now=at(0))
    dispatch_pending(now=at(0))
    dispatch_pending(now=at(31))  # no receipt within 30 s: the code goes out on WhatsApp
    assert Message.objects.filter(contact=contact, kind="whatsapp", direction="out").exists()
    verification_check(verification=v, code=v.code_for_tests, now=at(50))
    rows = {
        r["channel"]: r for r in otp_onboarding(workspace=ws, period=period(ws), now=at(100))["by_channel"]
    }
    assert set(rows) == {"whatsapp", "all"}
    assert (rows["whatsapp"]["verified"], rows["whatsapp"]["fallback"], rows["whatsapp"]["median_s"]) == (
        1,
        1,
        50.0,
    )
