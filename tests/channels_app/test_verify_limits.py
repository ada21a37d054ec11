"""Defences against SMS pumping, as workspace settings: a resend cooldown, limits per number,
per client IP and per destination prefix, the countries a workspace verifies, and a workspace
rate sized for a bank's sign-up day. Over a limit the service says which one, for how long
(retry_after_s) and the API answers 429 with Retry-After; a refused country is a field error."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse

from channels_app.models import Message, Verification
from channels_app.services.verify import VerificationRateLimited, verification_resend, verification_start
from channels_app.services.verify_policy import verify_policy_get, verify_policy_update
from cpaas.tenancy import Actor

from .conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_throttle_carryover():
    cache.clear()
    yield
    cache.clear()


def policy(workspace, **values):
    return verify_policy_update(workspace=workspace, actor=Actor.system("test"), data=values, now=at(0))


def start(workspace, to, seconds=0, **kw):
    return verification_start(workspace=workspace, to=to, now=at(seconds), **kw)


def refused(workspace, to, seconds=0, **kw) -> VerificationRateLimited:
    with pytest.raises(VerificationRateLimited) as exc:
        start(workspace, to, seconds, **kw)
    return exc.value


def test_defaults_are_sized_for_a_banks_sign_up_day(workspace):
    p = verify_policy_get(workspace=workspace)
    # 5,500 sign-ups in 90 s is about 3,700 a minute: the workspace rate must hold that
    assert p.per_minute >= 5500 * 60 / 90
    assert (p.per_number, p.resend_cooldown_s, p.countries) == (5, 30, [])
    assert p.per_ip >= 20 and p.per_prefix >= 50


def test_a_resend_waits_for_the_cooldown(workspace):
    policy(workspace, resend_cooldown_s=30)
    verification = start(workspace, "+447911000001")
    with pytest.raises(VerificationRateLimited) as exc:
        verification_resend(verification=verification, now=at(10))
    assert exc.value.retry_after_s == 20 and "30 s" in exc.value.messages[0]
    # starting over for the same number is a resend too
    assert refused(workspace, "+447911000001", 12).retry_after_s == 18
    verification_resend(verification=verification, now=at(30))
    assert refused(workspace, "+447911000001", 40).retry_after_s == 20  # from the latest send
    start(workspace, "+447911000001", 60)
    assert Message.objects.count() == 3


def test_starts_per_number_are_limited(workspace):
    policy(workspace, per_number=3, resend_cooldown_s=0)
    for i in range(3):
        start(workspace, "+447911000002", i * 60)
    exc = refused(workspace, "+447911000002", 200)
    assert "+447911000002" in exc.messages[0] and exc.retry_after_s == 400  # when the first leaves the window
    start(workspace, "+447911000002", 600)


def test_starts_per_client_ip_are_limited(workspace):
    policy(workspace, per_ip=2)
    start(workspace, "+447911000003", client_ip="203.0.113.9")
    start(workspace, "+447922000004", 1, client_ip="203.0.113.9")
    exc = refused(workspace, "+447933000005", 2, client_ip="203.0.113.9")
    assert "203.0.113.9" in exc.messages[0]
    start(workspace, "+447933000005", 3, client_ip="2001:db8::1")
    start(workspace, "+447944000006", 4)  # no IP given: no per-IP count
    with pytest.raises(ValidationError) as bad:
        start(workspace, "+447955000007", 5, client_ip="not an ip")
    assert "client_ip" in bad.value.message_dict


def test_an_anomalous_destination_prefix_is_limited(workspace):
    policy(workspace, per_prefix=3)
    for i in range(3):
        start(workspace, f"+44791100001{i}", i)
    exc = refused(workspace, "+447911000019", 5)
    assert "+447911" in exc.messages[0] and "pumping" in exc.messages[0]
    start(workspace, "+447400123456", 6)  # another prefix
    start(workspace, "+447911000019", 601)  # the window moved on


def test_a_workspace_may_restrict_the_countries_it_verifies(workspace, contact):
    policy(workspace, countries=["GB", "IE"])
    start(workspace, "+353851234567")
    with pytest.raises(ValidationError) as exc:
        start(workspace, "+33612345678", 1)
    assert not isinstance(exc.value, VerificationRateLimited)
    message = exc.value.message_dict["to"][0]
    assert "France" in message and "FR" in message and "GB, IE" in message
    assert not Verification.objects.filter(address="+33612345678").exists()
    # email carries no country
    verification_start(workspace=workspace, contact=contact, channels=["email"], now=at(2))


def test_the_workspace_rate(workspace):
    policy(workspace, per_minute=2)
    start(workspace, "+447911000021", 0)
    start(workspace, "+447922000022", 20)
    exc = refused(workspace, "+447933000023", 30)
    assert exc.retry_after_s == 30 and "per minute" in exc.messages[0]
    start(workspace, "+447933000023", 60)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"countries": ["XX"]}, "countries"),
        ({"countries": "GB"}, "countries"),
        ({"per_minute": 0}, "per_minute"),
        ({"per_number": -1}, "per_number"),
        ({"resend_cooldown_s": 100000}, "resend_cooldown_s"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_settings_are_field_errors(workspace, values, field):
    with pytest.raises(ValidationError) as exc:
        policy(workspace, **values)
    assert field in exc.value.message_dict
    assert verify_policy_get(workspace=workspace).per_minute >= 3700  # nothing half-written


# --- API ------------------------------------------------------------------------------------------


def test_the_api_takes_the_end_users_ip_and_answers_429_with_retry_after(api, workspace):
    policy(workspace, per_ip=1)
    first = api.post(
        "/api/v1/verifications/", {"to": "+447911000031", "client_ip": "198.51.100.7"}, format="json"
    )
    assert first.status_code == 201 and first.json()["client_ip"] == "198.51.100.7"
    second = api.post(
        "/api/v1/verifications/", {"to": "+447922000032", "client_ip": "198.51.100.7"}, format="json"
    )
    assert second.status_code == 429
    body = second.json()["error"]
    assert body["code"] == "throttled" and "198.51.100.7" in body["message"]
    assert 0 < int(second["Retry-After"]) <= 600 and body["retry_after_s"] == int(second["Retry-After"])
    bad = api.post("/api/v1/verifications/", {"to": "+447922000032", "client_ip": "300.1.1.1"}, format="json")
    assert bad.status_code == 400 and "client_ip" in bad.json()["error"]["fields"]


def test_the_api_resend_cooldown_is_429(api, workspace):
    started = api.post("/api/v1/verifications/", {"to": "+447911000033"}, format="json").json()
    response = api.post(f"/api/v1/verifications/{started['id']}/resend/")
    assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 30


def test_the_api_refuses_a_country_the_workspace_does_not_verify(api, workspace):
    policy(workspace, countries=["GB"])
    response = api.post("/api/v1/verifications/", {"to": "+79161234567"}, format="json")
    assert response.status_code == 400 and "Russia" in response.json()["error"]["fields"]["to"][0]


def test_the_settings_api(api, other_api, workspace):
    url = "/api/v1/verifications/settings/"
    assert api.get(url).json()["countries"] == []
    response = api.patch(url, {"countries": ["gb", "FR"], "per_ip": 10}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["countries"], response.json()["per_ip"]) == (["GB", "FR"], 10)
    assert other_api.get(url).json()["countries"] == []  # another workspace's settings are its own
    bad = api.patch(url, {"countries": ["ZZ"]}, format="json")
    assert bad.status_code == 400 and "countries" in bad.json()["error"]["fields"]
    assert api.get(url).json()["countries"] == ["GB", "FR"]


# --- the settings page ----------------------------------------------------------------------------


def test_the_settings_page(admin_client, workspace):
    url = reverse("verification_settings")
    page = admin_client.get(url).content.decode()
    assert "Countries" in page and "Resend cooldown" in page
    response = admin_client.post(
        url,
        {"countries": "GB, ie", "per_minute": 9000, "per_number": 4, "per_ip": 30, "per_prefix": 80,
         "resend_cooldown_s": 45},
    )  # fmt: skip
    assert response.status_code == 302
    p = verify_policy_get(workspace=workspace)
    assert (p.countries, p.per_minute, p.per_number, p.per_ip, p.per_prefix, p.resend_cooldown_s) == (
        ["GB", "IE"], 9000, 4, 30, 80, 45,
    )  # fmt: skip
    bad = admin_client.post(
        url,
        {"countries": "GB, Narnia", "per_minute": 9000, "per_number": 4, "per_ip": 30, "per_prefix": 80,
         "resend_cooldown_s": 45},
    )  # fmt: skip
    assert bad.status_code == 400 and "Narnia" in bad.content.decode()
    assert verify_policy_get(workspace=workspace).countries == ["GB", "IE"]


def test_the_settings_page_shows_the_busiest_prefixes(admin_client, workspace):
    for i in range(3):
        start(workspace, f"+44791100004{i}", i)
    Verification.objects.update(created_at=dt.datetime.now(dt.UTC))
    page = admin_client.get(reverse("verification_settings")).content.decode()
    assert "+447911" in page


def test_the_countries_cover_every_channel_of_the_order(workspace):
    """A code that would reach a phone by fallback is checked like the first: starting by email
    cannot send SMS or calls to a country the workspace does not verify (nor dodge the prefix
    limit)."""
    from tests.factories import ContactFactory

    policy(workspace, countries=["GB"], per_prefix=1)
    french = ContactFactory(workspace=workspace, email="jean@example.com", phone="+33612345678")
    with pytest.raises(ValidationError) as exc:
        verification_start(workspace=workspace, contact=french, channels=["email", "sms"], now=at(0))
    assert "France" in exc.value.message_dict["to"][0]
    verification_start(workspace=workspace, contact=french, channels=["email"], now=at(1))
    first = ContactFactory(workspace=workspace, email="a@example.com", phone="+447400123456")
    second = ContactFactory(workspace=workspace, email="b@example.com", phone="+447400123457")
    verification = verification_start(
        workspace=workspace, contact=first, channels=["email", "voice"], now=at(2)
    )
    assert verification.prefix == "+447400"
    with pytest.raises(VerificationRateLimited):
        verification_start(workspace=workspace, contact=second, channels=["email", "sms"], now=at(3))
