import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _clear_throttle_cache():
    """Rate-limit counters live in the (LocMem) cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


def error_of(response) -> dict:
    """The one error body every API error has."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    return body["error"]
