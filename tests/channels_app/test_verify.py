"""OTP verification: happy path, wrong code, expiry, attempt limit, fallback to the next
channel when the code is not delivered, resend, and the limits against SMS pumping."""

import re

import pytest
from django.core.exceptions import ValidationError

from channels_app.models import Channel, Message, SandboxDelivery, Verification
from channels_app.services.verify import (
    VerificationRateLimited,
    verification_check,
    verification_resend,
    verification_start,
)
from channels_app.services.verify_policy import verify_policy_update
from contacts.models import Contact
from cpaas.tenancy import Actor

from .conftest import at, drain

pytestmark = pytest.mark.django_db


def code_received(kind: str) -> str:
    """The code as the contact's phone shows it (what the sandbox received)."""
    delivery = SandboxDelivery.objects.filter(channel__kind=kind).order_by("-id").first()
    text = delivery.content.get("voice", {}).get("say") or delivery.content["text"]
    return "".join(re.search(r"(\d(?:, )?){4,10}", text).group(0).split(", "))


def start(workspace, contact, **kw):
    return verification_start(workspace=workspace, contact=contact, now=kw.pop("now", at(0)), **kw)


def test_happy_path_the_code_sent_by_sms_is_approved(workspace, contact):
    verification = start(workspace, contact, channels=["sms"])
    drain(0)
    code = code_received("sms")
    assert len(code) == 6
    assert code not in verification.code_hash and Verification.objects.get().code_hash != code
    message = Message.objects.get()
    assert (message.purpose, message.origin, message.kind) == ("otp", "otp", "sms")
    assert verification_check(verification=verification, code=code, now=at(20)) == "approved"
    verification.refresh_from_db()
    assert verification.status == "approved" and verification.approved_at == at(20)


@pytest.mark.parametrize("later", ["000000", "", "right code"])
def test_an_approved_verification_approves_nothing_more(workspace, contact, later):
    """Like Twilio Verify (404 for a finished verification): once approved, any later check,
    wrong, empty or even the right code, hours later, says the verification is over."""
    verification = start(workspace, contact)
    drain(0)
    code = code_received("sms")
    assert verification_check(verification=verification, code=code, now=at(20)) == "approved"
    again = code if later == "right code" else later
    assert verification_check(verification=verification, code=again, now=at(3 * 3600)) == "already_approved"
    verification.refresh_from_db()
    assert (verification.status, verification.attempts, verification.approved_at) == ("approved", 1, at(20))


def test_a_finished_verification_says_why_on_every_later_check(workspace, contact):
    # expired: the check that finds it expired and every one after say so
    expired = start(workspace, contact, expiry_s=120)
    drain(0)
    code = code_received("sms")
    assert verification_check(verification=expired, code=code, now=at(121)) == "expired"
    assert verification_check(verification=expired, code=code, now=at(122)) == "expired"
    # too many attempts: the right code afterwards is refused
    failed = start(workspace, contact, max_attempts=1, now=at(200))
    drain(200)
    code = code_received("sms")
    assert verification_check(verification=failed, code="x", now=at(201)) == "incorrect"
    assert verification_check(verification=failed, code=code, now=at(202)) == "too_many_attempts"
    # canceled by a newer start for the same address
    newer = start(workspace, contact, now=at(300))
    assert verification_check(verification=failed, code=code, now=at(301)) == "too_many_attempts"
    Verification.objects.filter(pk=newer.pk).update(status="canceled")
    assert verification_check(verification=newer, code="123456", now=at(302)) == "canceled"
    assert Verification.objects.get(pk=failed.pk).attempts == 1


def test_a_wrong_code_is_incorrect_and_the_right_one_still_works(workspace, contact):
    verification = start(workspace, contact)
    drain(0)
    assert verification_check(verification=verification, code="12345x", now=at(5)) == "incorrect"
    assert verification_check(verification=verification, code=code_received("sms"), now=at(6)) == "approved"
    assert Verification.objects.get().attempts == 2


def test_an_expired_code_is_refused(workspace, contact):
    verification = start(workspace, contact, expiry_s=120)
    drain(0)
    code = code_received("sms")
    assert verification_check(verification=verification, code=code, now=at(120)) == "expired"
    assert Verification.objects.get().status == "expired"


def test_the_attempt_limit(workspace, contact):
    verification = start(workspace, contact, max_attempts=3)
    drain(0)
    code = code_received("sms")
    wrong = "111111" if code != "111111" else "222222"
    assert [verification_check(verification=verification, code=wrong, now=at(i)) for i in (1, 2, 3)] == [
        "incorrect"
    ] * 3
    assert verification_check(verification=verification, code=code, now=at(4)) == "too_many_attempts"
    assert Verification.objects.get().status == "failed"


def test_fallback_to_the_next_channel_when_the_code_is_not_delivered(workspace, contact):
    # given WhatsApp accepts but never delivers
    Channel.objects.filter(workspace=workspace, kind="whatsapp").update(
        settings={"sandbox": {"receipt": "none"}}
    )
    verification = start(workspace, contact, channels=["whatsapp", "sms", "voice"], fallback_after_s=30)
    drain(0)
    whatsapp = Message.objects.get(kind="whatsapp")
    assert whatsapp.status == "sent" and whatsapp.content["template"]["name"] == "otp_verification"
    code = code_received("whatsapp")
    drain(29)
    assert not Message.objects.filter(kind="sms").exists()
    # when 30 s pass without a receipt, the same code goes by SMS
    drain(30)
    sms = Message.objects.get(kind="sms")
    assert sms.fallback_of_id == whatsapp.pk and code not in sms.text
    assert code_received("sms") == code
    drain(31)  # the SMS is delivered: no call follows
    drain(90)
    assert not Message.objects.filter(kind="voice").exists()
    assert verification_check(verification=verification, code=code, now=at(95)) == "approved"


def test_the_voice_fallback_speaks_the_digits(workspace, contact):
    Channel.objects.filter(workspace=workspace, kind="sms").update(settings={"sandbox": {"fail": "30006"}})
    start(workspace, contact, channels=["sms", "voice"])
    drain(0)
    call = SandboxDelivery.objects.get(channel__kind="voice")  # what the call says
    assert re.search(r"code is (\d, ){5}\d\.", call.content["voice"]["say"])
    assert "code is *, *, *, *, *, *." in Message.objects.get(kind="voice").content["voice"]["say"]


def test_resend_goes_to_the_next_channel_with_a_new_code(workspace, contact):
    verification = start(workspace, contact, channels=["sms", "voice"])
    drain(0)
    first = code_received("sms")
    verification_resend(verification=verification, now=at(40))
    drain(40)
    second = code_received("voice")
    assert Message.objects.filter(kind="voice").count() == 1
    assert verification_check(verification=verification, code=first, now=at(41)) == "incorrect"
    assert verification_check(verification=verification, code=second, now=at(42)) == "approved"


def test_once_approved_no_more_codes_go_out(workspace, contact):
    Channel.objects.filter(workspace=workspace, kind="whatsapp").update(
        settings={"sandbox": {"receipt": "none"}}
    )
    verification = start(workspace, contact, channels=["whatsapp", "sms"], fallback_after_s=30)
    drain(0)
    verification_check(verification=verification, code=code_received("whatsapp"), now=at(10))
    drain(60)
    assert not Message.objects.filter(kind="sms").exists()


def test_a_verification_for_a_new_number_creates_the_contact(workspace):
    verification = verification_start(workspace=workspace, to="07911 123000", channels=["sms"], now=at(0))
    assert verification.address == "+447911123000"
    assert Contact.objects.get(phone="+447911123000") == verification.contact


def test_starts_per_address_are_limited(workspace, contact):
    verify_policy_update(workspace=workspace, actor=Actor.system("test"), data={"per_number": 3}, now=at(0))
    for i in range(3):
        start(workspace, contact, now=at(i * 30))
    with pytest.raises(VerificationRateLimited):
        start(workspace, contact, now=at(100))
    start(workspace, contact, now=at(601))  # the window has moved on
    assert Verification.objects.filter(status="pending").count() == 1  # each start cancels the previous


def test_starts_per_workspace_are_limited(workspace):
    verify_policy_update(workspace=workspace, actor=Actor.system("test"), data={"per_minute": 2}, now=at(0))
    verification_start(workspace=workspace, to="+447911000001", now=at(0))
    verification_start(workspace=workspace, to="+447922000002", now=at(1))
    with pytest.raises(VerificationRateLimited):
        verification_start(workspace=workspace, to="+447933000003", now=at(2))


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"channels": ["push"]}, "channels"),
        ({"code_length": 3}, "code_length"),
        ({"expiry_s": 10}, "expiry_s"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_bad_parameters_are_field_errors(workspace, contact, kw, field):
    with pytest.raises(ValidationError) as exc:
        start(workspace, contact, **kw)
    assert field in exc.value.message_dict
    assert not Verification.objects.exists() and not Message.objects.exists()


def test_the_verify_page_starts_checks_and_resends(admin_client, workspace, contact):
    from django.urls import reverse

    from channels_app.services.dispatch import dispatch_pending

    verify_policy_update(
        workspace=workspace, actor=Actor.system("test"), data={"resend_cooldown_s": 0}, now=at(0)
    )
    response = admin_client.post(
        reverse("verification_list"),
        {
            "contact": contact.pk,
            "channels": "sms, voice",
            "code_length": 6,
            "expiry_s": 600,
            "fallback_after_s": 30,
            "locale": "en",
        },
    )
    verification = Verification.objects.get()
    assert response["Location"] == reverse("verification_detail", args=[verification.pk])
    dispatch_pending(now=verification.created_at)
    code = code_received("sms")
    page = admin_client.get(reverse("verification_detail", args=[verification.pk])).content.decode()
    assert code not in page and "See the code in the simulator" in page
    wrong = admin_client.post(
        reverse("verification_detail", args=[verification.pk]),
        {"action": "check", "code": "99999"},
        follow=True,
    )
    assert "Incorrect code." in wrong.content.decode()
    admin_client.post(reverse("verification_detail", args=[verification.pk]), {"action": "resend"})
    assert Message.objects.filter(kind="voice").exists()
    response = admin_client.post(
        reverse("verification_list"),
        {
            "to": "",
            "channels": "pigeon",
            "code_length": 6,
            "expiry_s": 600,
            "fallback_after_s": 30,
            "locale": "en",
        },
    )
    assert response.status_code == 400 and "cannot carry a code" in response.content.decode()
