"""Tunables of the messaging core: a Django setting of the same name wins, then the environment
variable, then the default. Read at call time, so tests and subprocesses can set them."""

import os

from django.conf import settings

DEFAULTS = {
    "CHANNELS_DISPATCH_BATCH": 1000,  # messages claimed per round
    "CHANNELS_LEASE_S": 30.0,  # a claim older than this belongs to a worker that died (at least
    # CHANNELS_SEND_DEADLINE_S + 1: a call still in flight is never taken over)
    "CHANNELS_MAX_ATTEMPTS": 5,  # provider calls before a transient error becomes a failure
    "CHANNELS_RETRY_BASE_S": 2.0,  # first retry after ~2 s, then 4, 8... (with jitter)
    "CHANNELS_RETRY_MAX_S": 300.0,
    "CHANNELS_POLL_S": 0.1,  # how long an idle dispatcher sleeps
    "CHANNELS_SEND_DEADLINE_S": 10.0,  # total time a provider call may take, answer or not
    "CHANNELS_PUBLIC_URL": "http://127.0.0.1:8000",  # where providers reach our webhooks
}


def get(name: str):
    default = DEFAULTS[name]
    if hasattr(settings, name):
        return getattr(settings, name)
    raw = os.environ.get(name)
    if raw is None:
        return default
    return type(default)(raw)


def explicit(name: str) -> str:
    """The value only when a setting or environment variable sets it, else ''."""
    if hasattr(settings, name):
        return str(getattr(settings, name))
    return os.environ.get(name, "")
