import pytest


@pytest.fixture
def channels(workspace):
    from channels_app.models import Channel

    return {c.kind: c for c in Channel.objects.filter(workspace=workspace)}
