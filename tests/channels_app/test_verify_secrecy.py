"""An OTP code reaches the provider and the person's phone, and nothing else: no stored row
(message text or content, status history, events, realtime rows...), no API answer and no page
holds it. Stored messages carry it masked ("Your code is ******") plus the code encrypted for the
send step, which is cleared once the message no longer needs it. The sandbox's own record is the
phone (what the provider received), so the phone simulator shows the real code."""

import re

import pytest
from django.apps import apps
from django.db import models
from django.test import override_settings
from django.urls import reverse

from channels_app.models import Channel, Message, SandboxDelivery, Verification
from channels_app.services.verify import verification_check, verification_start

from .conftest import at, drain

pytestmark = pytest.mark.django_db


def stored_rows_holding(*needles: str) -> list[str]:
    """Every text and JSON column of every model, searched for the needles; the sandbox's
    record of what it received is the person's phone, not ours."""
    found = []
    for model in apps.get_models():
        if model is SandboxDelivery:
            continue
        columns = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField | models.JSONField)
        ]
        if not columns:
            continue
        for row in model.objects.values("pk", *columns):
            text = " ".join(str(v) for v in row.values())
            found += [f"{model.__name__} {row['pk']}" for n in needles if n in text]
    return found


def phone_code(kind: str) -> str:
    delivery = SandboxDelivery.objects.filter(channel__kind=kind).order_by("-id").first()
    text = delivery.content.get("voice", {}).get("say") or delivery.content["text"]
    return "".join(re.search(r"(\d(?:, )?){4,10}", text).group(0).split(", "))


@override_settings(REALTIME_MODE="relay")  # realtime rows are stored rows too
def test_the_code_is_only_on_the_phone(
    workspace, contact, admin_client, api, django_capture_on_commit_callbacks
):
    # given SMS fails, so the code falls back to WhatsApp and then a voice call
    Channel.objects.filter(workspace=workspace, kind="sms").update(settings={"sandbox": {"fail": "30006"}})
    Channel.objects.filter(workspace=workspace, kind="whatsapp").update(
        settings={"sandbox": {"fail": "63016"}}
    )
    with django_capture_on_commit_callbacks(execute=True):
        verification = verification_start(
            workspace=workspace, contact=contact, channels=["sms", "whatsapp", "voice"], now=at(0)
        )
        drain(0)
    code = phone_code("voice")
    spoken = ", ".join(code)
    assert code == verification.code_for_tests
    messages = list(Message.objects.order_by("id"))
    assert [m.kind for m in messages] == ["sms", "whatsapp", "voice"]
    # the stored messages hold the code masked, and no longer the encrypted copy after the send
    assert "code is ******." in messages[0].text
    assert "code is ******." in messages[1].text
    assert "*, *, *, *, *, *" in messages[2].content["voice"]["say"]
    assert [m.sealed for m in messages] == ["", "", ""]
    assert stored_rows_holding(code, spoken) == []
    # API answers
    for url in [
        "/api/v1/messages/",
        f"/api/v1/verifications/{verification.pk}/",
        *[f"/api/v1/messages/{m.pk}/" for m in messages],
    ]:
        response = api.get(url)
        assert response.status_code == 200 and code not in response.content.decode(), url
    # pages
    for url in [
        reverse("message_list"),
        reverse("verification_list"),
        reverse("verification_detail", args=[verification.pk]),
        reverse("contact_detail", args=[contact.pk]),
        *[reverse("message_detail", args=[m.pk]) for m in messages],
    ]:
        page = admin_client.get(url).content.decode()
        assert code not in page and spoken not in page, url
    # the phone shows the person their real code
    page = admin_client.get(reverse("simulator") + f"?contact={contact.pk}&kind=voice").content.decode()
    assert spoken in page
    assert verification_check(verification=verification, code=code, now=at(5)) == "approved"


def test_a_queued_code_is_sealed_until_sent_then_cleared(workspace, contact, admin_client):
    verification = verification_start(workspace=workspace, contact=contact, channels=["sms"], now=at(0))
    code = verification.code_for_tests
    message = Message.objects.get()
    # before the send: masked text, the code only encrypted
    assert message.sealed and code not in message.sealed and code not in message.text
    assert stored_rows_holding(code) == []
    drain(0)
    message.refresh_from_db()
    assert message.status == "sent" and message.sealed == ""
    assert phone_code("sms") == code
    page = admin_client.get(reverse("simulator") + f"?contact={contact.pk}&kind=sms").content.decode()
    assert f"code is {code}." in page


def test_a_code_delivered_late_by_the_fallback_is_the_same_real_code(workspace, contact):
    # WhatsApp accepts but never confirms: after 30 s the same code goes by SMS
    Channel.objects.filter(workspace=workspace, kind="whatsapp").update(
        settings={"sandbox": {"receipt": "none"}}
    )
    verification = verification_start(
        workspace=workspace, contact=contact, channels=["whatsapp", "sms"], fallback_after_s=30, now=at(0)
    )
    drain(0)
    assert Message.objects.get(kind="whatsapp").content["template"]["variables"] == {"1": "******"}
    assert phone_code("whatsapp") == verification.code_for_tests
    drain(31)
    assert phone_code("sms") == verification.code_for_tests
    assert list(Message.objects.values_list("sealed", flat=True)) == ["", ""]
    assert stored_rows_holding(verification.code_for_tests) == []
    assert Verification.objects.get().status == "pending"
