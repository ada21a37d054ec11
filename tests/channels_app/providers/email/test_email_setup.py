"""Setting up an email channel in the browser's form (the typed mechanism of issue 17 item 3):
only the email kind, where each credential is found, the webhook URL to paste before saving
(Postmark's with the basic-auth password's place marked), "Test connection" against the local
servers, and the provider's default rate when the rate is left blank."""

import re

import pytest
from django.urls import reverse

from channels_app.models import Channel
from channels_app.providers.email.fake import MAILGUN_KEY, MAILGUN_SIGNING_KEY, POSTMARK_TOKEN

from .conftest import SENDER, WEBHOOK_PASSWORD
from .fake_smtp import PASSWORD, USER

pytestmark = pytest.mark.django_db


def typed(provider, credentials, settings, **extra) -> dict:
    return {
        "provider": provider,
        "kind": "email",
        "name": f"{provider} mail",
        "address": SENDER,
        "rate_limit_per_second": "",
        **{f"cred_{k}": v for k, v in credentials.items()},
        **{f"set_{k}": v for k, v in settings.items()},
        **extra,
    }


@pytest.fixture
def forms(mailgun_api, postmark_api, smtp_server):
    return {
        "mailgun": ({"api_key": MAILGUN_KEY, "webhook_signing_key": MAILGUN_SIGNING_KEY}, {"api_base": mailgun_api.url + "/v3"}),
        "postmark": ({"server_token": POSTMARK_TOKEN, "webhook_password": WEBHOOK_PASSWORD}, {"api_base": postmark_api.url}),
        "smtp": ({"username": USER, "password": PASSWORD}, {"host": "127.0.0.1", "port": str(smtp_server.port), "security": "none"}),
    }  # fmt: skip


@pytest.mark.parametrize("provider", ["mailgun", "postmark", "smtp"])
def test_the_form_offers_email_only_and_says_where_each_credential_is(
    admin_client, workspace, forms, provider
):
    html = admin_client.get(reverse("channel_create") + f"?provider={provider}").content.decode()
    offered = re.findall(r'<option value="(\w+)"', html.split('name="kind"')[1].split("</select>")[0])
    assert offered == ["email"]
    for name in forms[provider][0]:
        assert f'name="cred_{name}"' in html
    assert "Provider settings (JSON)" not in html
    if provider == "postmark":
        assert "://postmark:YOUR-WEBHOOK-PASSWORD@" in html and "/webhooks/postmark/" in html
    if provider == "mailgun":
        assert "/webhooks/mailgun/" in html and "app.mailgun.com/settings/api_security" in html


@pytest.mark.parametrize("provider", ["mailgun", "postmark", "smtp"])
def test_test_connection_says_what_is_wrong_in_words(admin_client, workspace, forms, provider):
    credentials, settings = forms[provider]
    response = admin_client.post(
        reverse("channel_check"), typed(provider, credentials, settings), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "Connected" in html and "Not connected" not in html, html
    secret = {"mailgun": "api_key", "postmark": "server_token", "smtp": "password"}[provider]
    response = admin_client.post(
        reverse("channel_check"),
        typed(provider, {**credentials, secret: "wrong"}, settings),
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert "Not connected" in html and "refused" in html


@pytest.mark.parametrize("provider, rate", [("mailgun", 10), ("postmark", 10), ("smtp", 1)])
def test_a_blank_rate_takes_the_providers_default(admin_client, workspace, forms, provider, rate):
    credentials, settings = forms[provider]
    response = admin_client.post(reverse("channel_create"), typed(provider, credentials, settings))
    assert response.status_code == 302, response.content.decode()[:3000]
    channel = Channel.objects.get(name=f"{provider} mail")
    assert channel.rate_limit_per_second == rate and channel.credentials == credentials
