"""In-process event bus. Lower apps record an Event and emit it here; apps above subscribe by
event name, so imports keep pointing one way (cpaas <- contacts <- consent <- channels_app <-
journeys <- inbox).

Handlers run inside the transaction that recorded the event, so what they change commits or
rolls back with it. They must be quick: anything slow is enqueued with `transaction.on_commit`.
"""

from collections import defaultdict
from collections.abc import Callable

_subscribers: dict[str, list[Callable]] = defaultdict(list)

ANY = "*"


def subscribe(event_name: str):
    """Decorator: `@subscribe("message.received")` or `@subscribe("*")` for every event."""

    def register(handler: Callable) -> Callable:
        if handler not in _subscribers[event_name]:
            _subscribers[event_name].append(handler)
        return handler

    return register


def unsubscribe(event_name: str, handler: Callable) -> None:
    if handler in _subscribers[event_name]:
        _subscribers[event_name].remove(handler)


def emit(event) -> None:
    """Call every handler subscribed to `event.name` and to every event."""
    for handler in [*_subscribers.get(event.name, ()), *_subscribers.get(ANY, ())]:
        handler(event)
