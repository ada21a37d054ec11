"""A WhatsApp channel on the Meta Cloud API adapter, pointed at the local fake Graph API
(channels_app/providers/meta/fake.py), and helpers to post Meta's webhooks to it."""

import json

import pytest

from channels_app.providers.meta.fake import (
    ACCESS_TOKEN,
    APP_SECRET,
    DISPLAY_NUMBER,
    PHONE_NUMBER_ID,
    WABA_ID,
    FakeGraph,
    fixture,
    signature,
)

VERIFY_TOKEN = "verify-me-0123456789"


@pytest.fixture
def graph():
    server = FakeGraph().start()
    yield server
    server.stop()


@pytest.fixture
def meta(workspace, graph):
    """The workspace's WhatsApp channel on Meta (the sandbox one disabled)."""
    from channels_app.models import Channel
    from channels_app.services.channels import channel_create
    from cpaas.tenancy import Actor

    Channel.objects.filter(workspace=workspace, kind="whatsapp").update(status="disabled")
    return channel_create(
        workspace=workspace,
        actor=Actor.system("test"),
        kind="whatsapp",
        provider="meta",
        name="Meta WhatsApp",
        address=DISPLAY_NUMBER,
        credentials={"access_token": ACCESS_TOKEN, "app_secret": APP_SECRET},
        rate_limit_per_second=100,
        settings={
            "api_base": graph.url,
            "phone_number_id": PHONE_NUMBER_ID,
            "waba_id": WABA_ID,
            "verify_token": VERIFY_TOKEN,
        },
    )


def post(
    client, channel, body: bytes | str | dict, *, sign: str | None = APP_SECRET, header: str | None = None
):
    """POST a webhook to the channel's callback URL, signed as Meta signs it (or not)."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    headers = {}
    if header is not None:
        headers["X-Hub-Signature-256"] = header
    elif sign is not None:
        headers["X-Hub-Signature-256"] = signature(body, sign)
    return client.post(
        f"/webhooks/meta/{channel.webhook_token}/",
        data=body,
        content_type="application/json",
        headers=headers,
    )


def webhook(name: str, **replace) -> bytes:
    raw = fixture(name).decode()
    for old, new in replace.items():
        raw = raw.replace(old, new)
    return raw.encode()
