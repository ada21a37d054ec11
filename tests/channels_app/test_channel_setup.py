"""The typed channel setup form (issue 17 item 3): built from what the provider declares, only
its kinds, webhook URLs before saving, "Test connection" with the typed values (nothing saved),
the account's numbers for the sender picker, defaults for the rate, secrets never shown back."""

import re

import pytest
from django.urls import reverse

from channels_app.models import Channel

from .providers.twilio.fake import ACCOUNT_SID, AUTH_TOKEN

pytestmark = pytest.mark.django_db


def new_form(client, provider="twilio") -> str:
    response = client.get(reverse("channel_create") + f"?provider={provider}")
    assert response.status_code == 200
    return response.content.decode()


def typed(fake, **overrides) -> dict:
    data = {
        "provider": "twilio",
        "kind": "sms",
        "name": "Twilio UK",
        "address": "+447700900123",
        "rate_limit_per_second": "",
        "cred_account_sid": ACCOUNT_SID,
        "cred_auth_token": AUTH_TOKEN,
        "set_api_base": fake.url,
    }
    data.update(overrides)
    return data


def test_the_twilio_form_offers_only_its_kinds_and_links_to_each_credential(admin_client, workspace):
    html = new_form(admin_client)
    kinds = re.findall(r'<option value="(\w+)"', html.split('name="kind"')[1].split("</select>")[0])
    assert kinds == ["sms", "whatsapp", "voice"]
    assert "Provider settings (JSON)" not in html
    assert 'href="https://console.twilio.com/"' in html and "Where to find it" in html
    assert 'type="password"' in html and 'name="cred_auth_token"' in html


def test_webhook_urls_are_shown_before_saving_and_are_the_ones_that_work(admin_client, workspace, fake):
    html = new_form(admin_client)
    token = re.search(r'name="webhook_token" value="([\w-]+)"', html).group(1)
    assert f"/webhooks/twilio/{token}/inbound/" in html and "data-copy=" in html
    response = admin_client.post(reverse("channel_create"), typed(fake, webhook_token=token))
    assert response.status_code == 302
    assert Channel.objects.get(name="Twilio UK").webhook_token == token


def test_a_reused_webhook_token_is_refused(admin_client, workspace, fake):
    taken = Channel.objects.filter(workspace=workspace).first().webhook_token
    response = admin_client.post(reverse("channel_create"), typed(fake, webhook_token=taken))
    assert response.status_code == 400
    assert "reload the page" in response.content.decode()
    assert not Channel.objects.filter(name="Twilio UK").exists()


def test_test_connection_checks_the_typed_credentials_and_lists_the_numbers(admin_client, workspace, fake):
    before = Channel.objects.count()
    response = admin_client.post(reverse("channel_check"), typed(fake), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "Connected" in html and "Demo Bank messaging" in html
    assert '<option value="+447700900123">UK collections</option>' in html  # the sender picker
    assert Channel.objects.count() == before  # nothing saved


def test_test_connection_says_what_is_wrong_in_words(admin_client, workspace, fake):
    response = admin_client.post(
        reverse("channel_check"), typed(fake, cred_auth_token="wrong"), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "Not connected" in html and "Twilio refused the credentials: Authenticate (20003)" in html
    response = admin_client.post(
        reverse("channel_check"), typed(fake, cred_account_sid=""), headers={"HX-Request": "true"}
    )
    assert "Fill in Account SID first." in response.content.decode()


def test_test_connection_without_javascript_shows_the_whole_form_with_the_answer(
    admin_client, workspace, fake
):
    response = admin_client.post(reverse("channel_check"), typed(fake))
    html = response.content.decode()
    assert 'id="channel-form"' in html and "Connected" in html
    assert AUTH_TOKEN not in html  # the typed secret is not filled back


def test_test_connection_on_an_edit_uses_the_stored_secret_when_left_blank(admin_client, workspace, fake):
    admin_client.post(reverse("channel_create"), typed(fake))
    channel = Channel.objects.get(name="Twilio UK")
    response = admin_client.post(
        reverse("channel_check"),
        typed(fake, channel=channel.pk, cred_account_sid="", cred_auth_token=""),
        headers={"HX-Request": "true"},
    )
    assert "Connected" in response.content.decode()


def test_another_workspaces_channel_cannot_be_tested(other_client, workspace, fake):
    channel = Channel.objects.filter(workspace=workspace).first()
    response = other_client.post(reverse("channel_check"), typed(fake, channel=channel.pk))
    assert response.status_code == 404


def test_a_blank_rate_takes_the_providers_default_for_the_kind(admin_client, workspace, fake):
    html = new_form(admin_client)
    assert "sms 1/s" in html  # the default is said on the form
    admin_client.post(reverse("channel_create"), typed(fake))
    assert Channel.objects.get(name="Twilio UK").rate_limit_per_second == 1  # long-code SMS
    admin_client.post(reverse("channel_create"), typed(fake, name="Twilio fast", rate_limit_per_second="30"))
    assert Channel.objects.get(name="Twilio fast").rate_limit_per_second == 30  # editable


def test_settings_are_typed_fields_shown_back_but_secrets_are_not(admin_client, workspace, fake):
    admin_client.post(reverse("channel_create"), typed(fake, set_messaging_service_sid="MG0123"))
    channel = Channel.objects.get(name="Twilio UK")
    assert channel.settings == {"api_base": fake.url, "messaging_service_sid": "MG0123"}
    html = admin_client.get(reverse("channel_edit", args=[channel.pk])).content.decode()
    assert 'value="MG0123"' in html and AUTH_TOKEN not in html
    # clearing an optional setting removes it; undeclared settings are kept
    Channel.objects.filter(pk=channel.pk).update(settings={**channel.settings, "kept": 1})
    admin_client.post(
        reverse("channel_edit", args=[channel.pk]),
        {
            "name": "Twilio UK",
            "address": "+447700900123",
            "rate_limit_per_second": 1,
            "set_api_base": fake.url,
        },
    )
    channel.refresh_from_db()
    assert channel.settings == {"api_base": fake.url, "kept": 1}


def test_the_channel_list_offers_every_real_provider(admin_client, workspace):
    html = admin_client.get(reverse("channel_list")).content.decode()
    assert "Add Twilio channel" in html


def test_the_meta_form_shows_one_callback_url_and_a_made_up_verify_token(admin_client, workspace):
    html = new_form(admin_client, "meta")
    kinds = re.findall(r'<option value="(\w+)"', html.split('name="kind"')[1].split("</select>")[0])
    assert kinds == ["whatsapp"]
    token = re.search(r'name="webhook_token" value="([\w-]+)"', html).group(1)
    assert f'/webhooks/meta/{token}/"' in html and "/inbound/" not in html  # one callback URL
    verify = re.search(r'name="set_verify_token" value="([\w-]+)"', html)
    assert verify and len(verify.group(1)) >= 20
    assert "Standard: 80 messages/s" in html  # the throughput tier picker
