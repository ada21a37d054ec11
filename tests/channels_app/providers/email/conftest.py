"""Email channels (SMTP, Mailgun, Postmark) pointed at local servers that play them."""

import pytest

from channels_app.providers.email.fake import (
    DOMAIN,
    POSTMARK_WEBHOOK_PASSWORD,
    FakeMailgun,
    FakePostmark,
    mailgun_credentials,
    postmark_credentials,
)
from tests.factories import ContactFactory

from .fake_smtp import PASSWORD, USER, FakeSMTP

SENDER = f"news@{DOMAIN}"
WEBHOOK_PASSWORD = POSTMARK_WEBHOOK_PASSWORD


@pytest.fixture
def contact(workspace):
    """Ada, opted in to marketing email on the sign-up form (the mail these tests send)."""
    return opted_in(ContactFactory(workspace=workspace, first_name="Ada", email="ada@example.com"))


def opted_in(contact):
    from consent.services import consent_change
    from cpaas.tenancy import Actor

    from ...conftest import at

    consent_change(
        contact=contact, channel_kind="email", purpose="marketing", status="opted_in", actor=Actor.system("test"),
        method="web_form", reason="Signed up for the newsletter", at=at(-3600),
        evidence={"notice_text": "Send me offers by email"},
    )  # fmt: skip
    return contact


def _channel(workspace, provider, credentials, settings):
    from channels_app.models import Channel
    from channels_app.services.channels import channel_create
    from cpaas.tenancy import Actor

    Channel.objects.filter(workspace=workspace, kind="email").update(status="disabled")
    return channel_create(
        workspace=workspace,
        actor=Actor.system("test"),
        kind="email",
        provider=provider,
        name=f"{provider} email",
        address=SENDER,
        credentials=credentials,
        rate_limit_per_second=100,
        settings=settings,
    )


@pytest.fixture
def smtp_server():
    server = FakeSMTP().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(workspace, smtp_server):
    return _channel(
        workspace,
        "smtp",
        {"username": USER, "password": PASSWORD},
        {"host": "127.0.0.1", "port": smtp_server.port, "security": "none", "from_name": "Demo Bank"},
    )


@pytest.fixture
def mailgun_api():
    server = FakeMailgun().start()
    yield server
    server.stop()


@pytest.fixture
def mailgun(workspace, mailgun_api):
    return _channel(
        workspace,
        "mailgun",
        mailgun_credentials(),
        {"api_base": mailgun_api.url + "/v3", "from_name": "Demo Bank"},
    )


@pytest.fixture
def postmark_api():
    server = FakePostmark().start()
    yield server
    server.stop()


@pytest.fixture
def postmark(workspace, postmark_api):
    return _channel(
        workspace,
        "postmark",
        postmark_credentials(),
        {"api_base": postmark_api.url},
    )
