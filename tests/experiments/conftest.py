"""The journey helpers (a published journey, events, the engine run to rest) for experiments."""

from tests.journeys.conftest import actor, engine, fire, publish  # noqa: F401
