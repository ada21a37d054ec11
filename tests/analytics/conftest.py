"""Analytics test helpers: the journey helpers (a published journey, events, the engine) and a
tick that runs the engine and the dispatcher at one instant, as `make run` does."""

import datetime as dt

import pytest

from tests.journeys.conftest import actor, engine, fire, publish  # noqa: F401  (fixtures)


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def tick(engine):  # noqa: F811
    from channels_app.services.dispatch import dispatch_pending

    def _tick(when):
        engine(when)
        dispatch_pending(now=when)

    return _tick


@pytest.fixture
def new_york(workspace):
    """The workspace keeps New York time (EST, then EDT from Sunday 8 March 2026, 02:00)."""
    workspace.timezone = "America/New_York"
    workspace.default_country = "US"
    workspace.save(update_fields=["timezone", "default_country"])
    return workspace


@pytest.fixture
def channels(workspace):
    from channels_app.models import Channel

    return {c.kind: c for c in Channel.objects.filter(workspace=workspace)}
