import pytest


@pytest.fixture
def fake():
    """A local server playing 8x8's SMS API (channels_app/providers/eightbyeight/fake.py)."""
    from channels_app.providers.eightbyeight.fake import FakeEightByEight

    server = FakeEightByEight().start()
    yield server
    server.stop()


@pytest.fixture
def eightbyeight(workspace, fake):
    """An 8x8 SMS channel pointed at the fake."""
    from channels_app.providers.eightbyeight.fake import credentials

    from ..helpers import provider_channels

    return provider_channels(
        workspace,
        "eightbyeight",
        ["sms"],
        address="DemoBank",
        credentials=credentials(),
        settings={"api_base": fake.url},
    )["sms"]
