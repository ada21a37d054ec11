"""otp.verify resumes on the verification's outcome: a code checked through the verification
API (not typed back to the journey) ends the wait at once, with no polling; the wait's timer is
the code's expiry; an event cannot fake an approval."""

import datetime as dt
import re

from django.utils import timezone

from channels_app.models import Verification
from channels_app.services.verify import verification_check
from journeys.models import Enrollment, Step
from tests.journeys.conftest import graph, node


def _journey(publish):
    return publish(
        graph(
            trigger=node("trigger.event", {"event": "signup"}, next="otp"),
            otp=node("otp.verify", {"channels": ["sms"], "expiry_s": 300}, verified=None, failed=None, expired=None),
        )
    )  # fmt: skip


def _code_sent(now) -> str:
    """The code as the contact's phone received it (the sandbox's record)."""
    from channels_app.models import SandboxDelivery
    from channels_app.services.dispatch import dispatch_pending

    dispatch_pending(now=now)
    return re.search(r"\d{6}", SandboxDelivery.objects.order_by("-id").first().content["text"]).group(0)


def _exit(contact):
    e = Enrollment.objects.get(contact=contact)
    step = Step.objects.filter(enrollment=e, node="otp").first()
    return e.status, step.exit if step else None


def test_an_approval_through_the_api_resumes_the_journey_at_once(workspace, publish, fire, engine, contact):
    _journey(publish)
    now = timezone.now()
    fire(contact, "signup", now=now)
    engine(now)
    e = Enrollment.objects.get(contact=contact)
    verification = Verification.objects.get(contact=contact)
    # the wait's only timer is the code's expiry: no poll every few seconds
    assert e.status == "waiting" and e.wait_until == verification.expires_at
    code = _code_sent(now)
    # when the customer's system checks the code through the verification API
    assert verification_check(verification=verification, code=code, now=now) == "approved"
    engine(now)  # the same instant: nothing had to come due
    assert _exit(contact) == ("completed", "verified")


def test_too_many_wrong_codes_through_the_api_take_failed(workspace, publish, fire, engine, contact):
    _journey(publish)
    now = timezone.now()
    fire(contact, "signup", now=now)
    engine(now)
    verification = Verification.objects.get(contact=contact)
    for _ in range(verification.max_attempts):
        verification_check(verification=verification, code="000000", now=now)
    engine(now)
    assert _exit(contact) == ("completed", "failed")


def test_the_code_expiring_takes_expired(workspace, publish, fire, engine, contact):
    _journey(publish)
    now = timezone.now()
    fire(contact, "signup", now=now)
    engine(now)
    engine(now + dt.timedelta(seconds=299))
    assert _exit(contact) == ("waiting", None)
    engine(now + dt.timedelta(seconds=301))
    assert _exit(contact) == ("completed", "expired")


def test_an_outcome_event_cannot_fake_an_approval(workspace, publish, fire, engine, contact):
    _journey(publish)
    now = timezone.now()
    fire(contact, "signup", now=now)
    engine(now)
    verification = Verification.objects.get(contact=contact)
    fire(contact, "otp.check", now=now, verification=verification.pk, outcome="approved")
    engine(now)
    assert _exit(contact) == ("waiting", None)  # the verification is still pending: keep waiting


def test_a_wrong_code_typed_after_an_api_approval_still_verifies(workspace, publish, fire, engine, contact):
    """The node decides by the verification's status: approved through the API, then a stray
    wrong reply before the engine ran, is verified (not kept waiting, not failed)."""
    from tests.journeys.conftest import reply

    _journey(publish)
    now = timezone.now()
    fire(contact, "signup", now=now)
    engine(now)
    verification = Verification.objects.get(contact=contact)
    code = _code_sent(now)
    assert verification_check(verification=verification, code=code, now=now) == "approved"
    reply(contact, "000000" if code != "000000" else "111111", now=now)
    engine(now)
    assert _exit(contact) == ("completed", "verified")
    verification.refresh_from_db()
    assert (verification.status, verification.attempts) == ("approved", 1)


def test_the_right_code_typed_after_too_many_wrong_ones_fails(workspace, publish, fire, engine, contact):
    from tests.journeys.conftest import reply

    _journey(publish)
    now = timezone.now()
    fire(contact, "signup", now=now)
    engine(now)
    verification = Verification.objects.get(contact=contact)
    code = _code_sent(now)
    for _ in range(verification.max_attempts):
        verification_check(verification=verification, code="x", now=now, notify=False)
    reply(contact, code, now=now)
    engine(now)
    assert _exit(contact) == ("completed", "failed")
