"""The setup form of Vonage, Infobip and 8x8 (issue 17 item 3, declared by each provider): only
the kinds it carries, a link to where each credential is found, "Test connection" against the
provider (a fake of it) with the account's numbers offered as senders, and the provider's
default rate for the kind when the rate is left blank."""

import re

import pytest
from django.urls import reverse

from channels_app.models import Channel

pytestmark = pytest.mark.django_db

PROVIDERS = {
    # provider: (fake class path, kinds in the form, a kind to create, a sender, numbers listed)
    "vonage": ("vonage.fake.FakeVonage", ["sms", "whatsapp", "rcs", "viber", "messenger"], "sms", True),
    "infobip": ("infobip.fake.FakeInfobip", ["sms", "whatsapp", "rcs", "viber"], "whatsapp", True),
    "eightbyeight": ("eightbyeight.fake.FakeEightByEight", ["sms"], "sms", False),
}


@pytest.fixture(params=list(PROVIDERS))
def setup(request):
    from django.utils.module_loading import import_string

    name = request.param
    fake_path, kinds, kind, lists_numbers = PROVIDERS[name]
    fake = import_string(f"channels_app.providers.{fake_path}")().start()
    credentials = import_string(f"channels_app.providers.{fake_path.rsplit('.', 1)[0]}.credentials")()
    yield name, fake, credentials, kinds, kind, lists_numbers
    fake.stop()


def typed(name, fake, credentials, kind, **overrides) -> dict:
    data = {
        "provider": name,
        "kind": kind,
        "name": f"{name} {kind}",
        "address": "+447700900001",
        "rate_limit_per_second": "",
        "set_api_base": fake.url,
        **{f"cred_{k}": v for k, v in credentials.items()},
    }
    data.update(overrides)
    return data


def test_the_form_offers_only_the_providers_kinds_and_says_where_each_credential_is(
    admin_client, workspace, setup
):
    name, fake, credentials, kinds, kind, _ = setup
    html = admin_client.get(reverse("channel_create") + f"?provider={name}").content.decode()
    offered = re.findall(r'<option value="(\w+)"', html.split('name="kind"')[1].split("</select>")[0])
    assert sorted(offered) == sorted(kinds)
    assert "Provider settings (JSON)" not in html and "Where to find it" in html
    for field in credentials:
        assert f'name="cred_{field}"' in html
    assert f"/webhooks/{name}/" in html  # the URLs to paste, before saving


def test_test_connection_asks_the_provider_and_offers_its_numbers(admin_client, workspace, setup):
    name, fake, credentials, _, kind, lists_numbers = setup
    response = admin_client.post(
        reverse("channel_check"), typed(name, fake, credentials, kind), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "Connected" in html and "Not connected" not in html, html
    assert ('<option value="+447700900001"' in html) is lists_numbers
    wrong = {next(iter(k for k in credentials if k in ("api_key", "api_secret"))): "wrong"}
    if name == "vonage":
        wrong = {"api_secret": "wrong"}
    response = admin_client.post(
        reverse("channel_check"),
        typed(name, fake, credentials, kind, **{f"cred_{k}": v for k, v in wrong.items()}),
        headers={"HX-Request": "true"},
    )
    assert "Not connected" in response.content.decode() and "refused" in response.content.decode()


def test_a_blank_rate_takes_the_providers_default_for_the_kind(admin_client, workspace, setup):
    from channels_app.providers import get_provider

    name, fake, credentials, _, kind, _ = setup
    response = admin_client.post(reverse("channel_create"), typed(name, fake, credentials, kind))
    assert response.status_code == 302, response.content.decode()[:2000]
    channel = Channel.objects.get(name=f"{name} {kind}")
    assert channel.rate_limit_per_second == get_provider(name).default_rates[kind]
    assert channel.credentials == {k: v.strip() for k, v in credentials.items()}  # stored whole


def test_infobip_needs_its_accounts_base_url_vonage_and_8x8_do_not(admin_client, workspace):
    from channels_app.providers.infobip.fake import credentials as infobip_credentials
    from channels_app.providers.vonage.fake import credentials as vonage_credentials

    data = typed("infobip", type("F", (), {"url": ""}), infobip_credentials(), "sms")
    response = admin_client.post(reverse("channel_create"), data)
    assert response.status_code == 400 and not Channel.objects.filter(provider="infobip").exists()
    data = typed("vonage", type("F", (), {"url": ""}), vonage_credentials(), "sms")
    assert admin_client.post(reverse("channel_create"), data).status_code == 302
    assert Channel.objects.get(provider="vonage").settings.get("api_base") in (None, "")
