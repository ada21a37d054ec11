"""The inbox's sweep, run by the worker every minute (the django-q2 Schedule that migration
`0002_sweep_schedule` creates): snoozed conversations whose time came open again, idle agents
become away, and auto-assigned queues are drained (a safety net: every service that frees or
adds work drains at once). Each part is safe to run twice and concurrently."""

from __future__ import annotations

from django.utils import timezone

from . import assignment
from .services import idle_agents_away, snoozed_wake


def inbox_sweep_task() -> dict:
    now = timezone.now()
    return {
        "woken": snoozed_wake(now=now),
        "away": idle_agents_away(now=now),
        "assigned": assignment.drain_all(now=now),
    }
