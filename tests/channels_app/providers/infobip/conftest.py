import pytest


@pytest.fixture
def fake():
    """A local server playing Infobip's HTTP API (channels_app/providers/infobip/fake.py)."""
    from channels_app.providers.infobip.fake import FakeInfobip

    server = FakeInfobip().start()
    yield server
    server.stop()


@pytest.fixture
def infobip(workspace, fake):
    """Infobip channels of every kind it carries, pointed at the fake."""
    from channels_app.providers.infobip.fake import credentials

    from ..helpers import provider_channels

    return provider_channels(
        workspace,
        "infobip",
        ["sms", "whatsapp", "viber", "rcs"],
        address={
            "sms": "+447700900001",
            "whatsapp": "+447700900001",
            "viber": "DemoBank",
            "rcs": "demobank_agent",
        },
        credentials=credentials(),
        settings={"api_base": fake.url},
    )
