"""The messages, channels and verifications API: send, idempotency, errors, batch, history,
OTP start/check/resend with its rate limits, isolation and the OpenAPI schema."""

import datetime as dt
import re

import pytest
import yaml
from django.core.cache import cache

from channels_app.models import Message, SandboxDelivery, Verification
from channels_app.services.dispatch import dispatch_pending
from contacts.models import Contact
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
S = Message.Status


@pytest.fixture(autouse=True)
def _no_throttle_carryover():
    cache.clear()
    yield
    cache.clear()


def now():
    return dt.datetime.now(dt.UTC)


def error(response) -> dict:
    return response.json()["error"]


def test_send_by_contact_id_then_follow_its_status(api, workspace, contact):
    response = api.post(
        "/api/v1/messages/",
        {"contact_id": contact.pk, "channel": "sms", "content": {"text": "Hi Ada"}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["kind"], body["address"], body["segments"]) == (
        "queued",
        "sms",
        "+447911123456",
        1,
    )
    assert body["consent"]["outcome"] == "allow"
    assert body["sent_by"] == "automation"  # an API send is automation; an agent's reply says person
    dispatch_pending(now=now())
    dispatch_pending(now=now() + dt.timedelta(seconds=2))
    detail = api.get(f"/api/v1/messages/{body['id']}/").json()
    assert detail["status"] == "delivered"
    assert [h["status"] for h in detail["history"]] == ["queued", "sent", "delivered"]


def test_the_same_idempotency_key_twice_is_one_message_and_one_provider_call(api, workspace, contact):
    payload = {
        "contact_id": contact.pk,
        "channel": "sms",
        "content": {"text": "Order 42 shipped"},
        "idempotency_key": "order-42",
    }
    first = api.post("/api/v1/messages/", payload, format="json")
    dispatch_pending(now=now())
    again = api.post("/api/v1/messages/", payload, format="json")
    header = api.post(
        "/api/v1/messages/",
        {k: v for k, v in payload.items() if k != "idempotency_key"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="order-42",
    )
    dispatch_pending(now=now())
    assert first.status_code == 201
    assert again.status_code == header.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == header.json()["id"] == first.json()["id"]
    assert Message.objects.count() == 1 and SandboxDelivery.objects.count() == 1


def test_an_idempotency_key_reused_for_another_contact_is_409(api, workspace, contact):
    api.post(
        "/api/v1/messages/",
        {"contact_id": contact.pk, "channel": "sms", "content": {"text": "a"}, "idempotency_key": "k"},
        format="json",
    )
    other = ContactFactory(workspace=workspace)
    response = api.post(
        "/api/v1/messages/",
        {"contact_id": other.pk, "channel": "sms", "content": {"text": "a"}, "idempotency_key": "k"},
        format="json",
    )
    assert response.status_code == 409 and error(response)["code"] == "conflict"


def test_send_to_a_new_address_creates_the_contact(api, workspace):
    response = api.post(
        "/api/v1/messages/",
        {"to": "07911 123001", "channel": "sms", "content": {"text": "Welcome"}},
        format="json",
    )
    assert response.status_code == 201
    assert Contact.objects.get(workspace=workspace, phone="+447911123001").pk == response.json()["contact_id"]


def test_a_viber_send_to_a_phone_number_finds_the_contact_and_respects_their_phone_opt_out(
    api, workspace, contact
):
    """Viber reaches a person by phone number like SMS: the one definition of addresses
    (contacts.addresses) says so for channels_app and consent alike."""
    from consent.services.suppression import suppression_add
    from cpaas.tenancy import Actor

    # given Ada (+447911123456) asked to hear nothing more on her number, on any channel
    suppression_add(workspace=workspace, actor=Actor.system("test"), channel_kind="",
                    address=contact.phone, reason="complaint", note="STOP by phone", at=now())  # fmt: skip
    # when an API caller sends on Viber to her number, written nationally
    response = api.post(
        "/api/v1/messages/",
        {"to": "07911 123456", "channel": "viber", "content": {"text": "Hi"}},
        format="json",
    )
    # then it is Ada (no second contact for the same number), and the send is blocked
    assert response.status_code == 201, response.json()
    assert response.json()["contact_id"] == contact.pk
    assert Contact.objects.filter(workspace=workspace).count() == 1
    assert response.json()["status"] == S.BLOCKED


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"channel": "fax", "content": {"text": "x"}}, "channel", "Unknown channel"),
        ({"channel": "sms", "content": {"text": "x" * 1601}}, "content.text", "at most 1,600"),
        (
            {"channel": "whatsapp", "content": {"text": "?", "buttons": ["a", "b", "c", "d"]}},
            "content.buttons",
            "at most 3",
        ),
        ({"channel": "sms", "content": "hello"}, "content", "Must be an object"),
        ({"channel": "sms", "content": {"text": "x"}, "purpose": "spam"}, "purpose", "Unknown purpose"),
        ({"channel": "sms", "content": {"text": "x"}, "colour": "red"}, "colour", "Unknown field"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_written(
    api, workspace, contact, payload, field, words
):
    response = api.post("/api/v1/messages/", {"contact_id": contact.pk, **payload}, format="json")
    assert response.status_code == 400
    assert words in " ".join(error(response)["fields"][field])
    assert not Message.objects.exists()


def test_a_contact_must_be_named_once(api, workspace, contact):
    response = api.post("/api/v1/messages/", {"channel": "sms", "content": {"text": "x"}}, format="json")
    assert response.status_code == 400 and "contact_id" in error(response)["fields"]
    response = api.post(
        "/api/v1/messages/", {"contact_id": 999999, "channel": "sms", "content": {"text": "x"}}, format="json"
    )
    assert response.status_code == 400 and "not found" in error(response)["fields"]["contact_id"][0]


def test_a_blocked_send_is_stored_with_the_consent_reason(api, workspace, contact):
    response = api.post(
        "/api/v1/messages/",
        {"contact_id": contact.pk, "channel": "sms", "content": {"text": "Sale"}, "purpose": "marketing"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "blocked" and body["consent"]["rule"] == "consent.missing"


def test_list_filters(api, workspace, contact):
    api.post(
        "/api/v1/messages/",
        {"contact_id": contact.pk, "channel": "sms", "content": {"text": "one"}},
        format="json",
    )
    api.post(
        "/api/v1/messages/",
        {"contact_id": contact.pk, "channel": "email", "content": {"text": "two"}},
        format="json",
    )
    assert api.get("/api/v1/messages/").json()["count"] == 2
    assert [m["text"] for m in api.get("/api/v1/messages/", {"kind": "email"}).json()["results"]] == ["two"]
    assert api.get("/api/v1/messages/", {"status": "queued", "contact_id": contact.pk}).json()["count"] == 2
    bad = api.get("/api/v1/messages/", {"status": "teleported"})
    assert bad.status_code == 400 and "status" in error(bad)["fields"]


def test_batch_send(api, workspace):
    reachable = ContactFactory.create_batch(3, workspace=workspace)
    no_phone = ContactFactory(workspace=workspace, phone=None, email="n@example.com")
    ids = [c.pk for c in reachable] + [no_phone.pk]
    response = api.post(
        "/api/v1/messages/batch/",
        {"contact_ids": ids, "channel": "sms", "content": {"text": "Hello all"}, "idempotency_key": "b"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3 and body["skipped"] == [
        {"contact_id": no_phone.pk, "reason": f"{no_phone.display_name} has no phone number for sms."}
    ]
    again = api.post(
        "/api/v1/messages/batch/",
        {"contact_ids": ids, "channel": "sms", "content": {"text": "Hello all"}, "idempotency_key": "b"},
        format="json",
    )
    assert again.json()["count"] == 3 and Message.objects.count() == 3
    unknown = api.post(
        "/api/v1/messages/batch/",
        {"contact_ids": [999999], "channel": "sms", "content": {"text": "x"}},
        format="json",
    )
    assert unknown.status_code == 400


def test_channels_are_listed_with_masked_credentials(api, workspace):
    channels = api.get("/api/v1/channels/").json()["results"]
    assert len(channels) == 8
    assert all(set(c["credentials"]) == {"secret"} and "…" in c["credentials"]["secret"] for c in channels)


def test_another_workspaces_message_is_404(api, other_api, workspace, contact):
    sent = api.post(
        "/api/v1/messages/",
        {"contact_id": contact.pk, "channel": "sms", "content": {"text": "x"}},
        format="json",
    ).json()
    assert other_api.get(f"/api/v1/messages/{sent['id']}/").status_code == 404
    assert other_api.get("/api/v1/messages/").json()["count"] == 0
    response = other_api.post(
        "/api/v1/messages/",
        {"contact_id": contact.pk, "channel": "sms", "content": {"text": "x"}},
        format="json",
    )
    assert response.status_code == 400  # not found in *their* workspace


def test_a_viewer_session_may_read_but_not_send(client, viewer, workspace, contact):
    client.force_login(viewer)
    assert client.get("/api/v1/messages/").status_code == 200
    response = client.post(
        "/api/v1/messages/",
        {"contact_id": contact.pk, "channel": "sms", "content": {"text": "x"}},
        content_type="application/json",
    )
    assert response.status_code == 403


# --- verifications --------------------------------------------------------------------------------


def sent_code() -> str:
    dispatch_pending(now=now())
    text = SandboxDelivery.objects.order_by("-id").first().content["text"]
    return re.search(r"\d{6}", text).group(0)


def test_verification_start_check_resend(api, workspace, contact):
    api.patch("/api/v1/verifications/settings/", {"resend_cooldown_s": 0}, format="json")
    response = api.post(
        "/api/v1/verifications/", {"contact_id": contact.pk, "channels": ["sms", "voice"]}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending" and body["channel"] == "sms"
    code = sent_code()
    assert code not in str(body)  # the code never comes back
    check = api.post(
        f"/api/v1/verifications/{body['id']}/check/",
        {"code": "000000" if code != "000000" else "111111"},
        format="json",
    )
    assert check.json()["status"] == "incorrect" and check.json()["verification"]["attempts"] == 1
    resend = api.post(f"/api/v1/verifications/{body['id']}/resend/")
    assert resend.status_code == 200 and resend.json()["channel"] == "voice"
    dispatch_pending(now=now())
    spoken = SandboxDelivery.objects.order_by("-id").first().content["voice"]["say"]
    new_code = re.search(r"is ((\d, ){5}\d)", spoken).group(1).replace(", ", "")
    check = api.post(f"/api/v1/verifications/{body['id']}/check/", {"code": new_code}, format="json")
    assert check.json()["status"] == "approved"
    assert api.get(f"/api/v1/verifications/{body['id']}/").json()["status"] == "approved"


def test_a_finished_verification_answers_404_to_checks(api, workspace, contact):
    """Twilio Verify answers 404 (20404) once a verification is approved, expired or out of
    attempts; we do the same, in the API's one error shape, saying why."""
    body = api.post("/api/v1/verifications/", {"contact_id": contact.pk}, format="json").json()
    code = sent_code()
    url = f"/api/v1/verifications/{body['id']}/check/"
    assert api.post(url, {"code": code}, format="json").json()["status"] == "approved"
    for later in (code, "000000", ""):
        response = api.post(url, {"code": later}, format="json")
        assert response.status_code == 404, later
        assert error(response)["code"] == "not_found" and "approved" in error(response)["message"]
    # nor can it send another code
    resend = api.post(f"/api/v1/verifications/{body['id']}/resend/")
    assert resend.status_code == 404 and "approved" in error(resend)["message"]
    # the record itself is still there to read
    assert api.get(f"/api/v1/verifications/{body['id']}/").json()["status"] == "approved"
    # out of attempts
    body = api.post(
        "/api/v1/verifications/", {"to": "+447911123009", "max_attempts": 1}, format="json"
    ).json()
    code = sent_code()
    url = f"/api/v1/verifications/{body['id']}/check/"
    wrong = api.post(url, {"code": "000000" if code != "000000" else "111111"}, format="json")
    assert wrong.status_code == 200 and wrong.json()["verification"]["status"] == "failed"
    response = api.post(url, {"code": code}, format="json")
    assert response.status_code == 404 and "attempts" in error(response)["message"]
    # expired
    Verification.objects.filter(pk=body["id"]).update(status="pending", expires_at=now())
    response = api.post(url, {"code": code}, format="json")
    assert response.status_code == 404 and "expired" in error(response)["message"]


def test_verification_rate_limit_is_429(api, workspace):
    from channels_app.services.verify_policy import verify_policy_update
    from cpaas.tenancy import Actor

    verify_policy_update(
        workspace=workspace,
        actor=Actor.system("test"),
        data={"per_number": 2, "resend_cooldown_s": 0},
        now=now(),
    )
    for _ in range(2):
        assert api.post("/api/v1/verifications/", {"to": "+447911123002"}, format="json").status_code == 201
    response = api.post("/api/v1/verifications/", {"to": "+447911123002"}, format="json")
    assert response.status_code == 429
    assert error(response)["code"] == "throttled" and 595 <= int(response["Retry-After"]) <= 600


def test_verification_errors_and_isolation(api, other_api, workspace, contact):
    bad = api.post("/api/v1/verifications/", {"contact_id": contact.pk, "code_length": 2}, format="json")
    assert bad.status_code == 400 and "code_length" in error(bad)["fields"]
    started = api.post("/api/v1/verifications/", {"contact_id": contact.pk}, format="json").json()
    assert other_api.get(f"/api/v1/verifications/{started['id']}/").status_code == 404
    assert (
        other_api.post(
            f"/api/v1/verifications/{started['id']}/check/", {"code": "123456"}, format="json"
        ).status_code
        == 404
    )
    assert Verification.objects.get().attempts == 0


PATHS = {
    "/api/v1/messages/": {"get", "post"},
    "/api/v1/messages/batch/": {"post"},
    "/api/v1/messages/{message_id}/": {"get"},
    "/api/v1/channels/": {"get"},
    "/api/v1/verifications/": {"post"},
    "/api/v1/verifications/{verification_id}/": {"get"},
    "/api/v1/verifications/{verification_id}/check/": {"post"},
    "/api/v1/verifications/{verification_id}/resend/": {"post"},
    "/api/v1/verifications/settings/": {"get", "patch"},
}


def test_every_endpoint_is_in_the_openapi_schema(client):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    for path, methods in PATHS.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path
    send = schema["paths"]["/api/v1/messages/"]["post"]
    assert {"201", "200", "400", "409"} <= set(send["responses"])
    assert "429" in schema["paths"]["/api/v1/verifications/"]["post"]["responses"]
