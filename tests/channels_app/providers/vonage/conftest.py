import pytest


@pytest.fixture
def fake():
    """A local server playing the Vonage Messages API (channels_app/providers/vonage/fake.py)."""
    from channels_app.providers.vonage.fake import FakeVonage

    server = FakeVonage().start()
    yield server
    server.stop()


@pytest.fixture
def vonage(workspace, fake):
    """Vonage channels of every kind it carries, pointed at the fake."""
    from channels_app.providers.vonage.fake import credentials

    from ..helpers import provider_channels

    return provider_channels(
        workspace,
        "vonage",
        ["sms", "whatsapp", "viber", "messenger", "rcs"],
        address={"sms": "+447700900001", "whatsapp": "+447700900001", "viber": "DemoBank",
                 "messenger": "107083064136738", "rcs": "demobank-agent"},
        credentials=credentials(),
        settings={"api_base": fake.url},
    )  # fmt: skip
