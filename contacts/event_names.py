"""Event names a workspace knows: the ones the product itself records or its journey templates
are built on, and every name the workspace has received. One list for everything that names an
event to wait for or count (a journey's wait or goal, an experiment's goal): a name nobody sends
would wait forever, or count nothing."""

from __future__ import annotations

from .models import Event

STANDARD_EVENTS = frozenset(
    {
        "message.received",
        "otp.check",
        "inbox.handoff_requested",
        "conversation.resolved",
        "survey.rated",
        "signup",
        "purchase",
        "cart_abandoned",
        "payment_completed",
        "payment_failed",
        "order_delivered",
        "app_opened",
        "first_transaction",
        "subscription_cancelled",
        "points_expiring",
        "call_scheduled",
    }
)


def event_known(*, workspace, name: str) -> bool:
    return name in STANDARD_EVENTS or Event.objects.filter(workspace=workspace, name=name).exists()


def event_names(*, workspace, limit: int = 200) -> list[str]:
    """The standard names and up to `limit` names the workspace has received, sorted."""
    seen = Event.objects.filter(workspace=workspace).values_list("name", flat=True).distinct()[:limit]
    return sorted(STANDARD_EVENTS | set(seen))
