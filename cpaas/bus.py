"""In-process event bus. Lower apps record an Event and emit it here; apps above subscribe by
event name, so imports keep pointing one way (cpaas <- contacts <- consent <- channels_app <-
journeys <- inbox).

Handlers run inside the transaction that recorded the event, so what they change commits or
rolls back with it. They must be quick: anything slow is enqueued with `transaction.on_commit`.

Batches: `emit_many(events)` is how a writer of many events at once (the events batch API)
emits them. Every subscriber still sees every event exactly once, in the order given:

- a handler subscribed with `subscribe(name)` is called once per event, as `emit` would;
- a handler subscribed with `subscribe_many(name)` is called ONCE with the list of events it
  wants (those named `name`, or all for ANY), so it can work in sets (the journey engine enrols
  a whole batch with a few queries). `emit(event)` calls it with a list of one.

Between handlers the order differs from emitting one by one: handler A sees every event of the
batch before handler B sees the first. A handler must not depend on another having seen an
event first (none does; each reads only its own rows and the event).
"""

from collections import defaultdict
from collections.abc import Callable, Sequence
from types import SimpleNamespace

_subscribers: dict[str, list[Callable]] = defaultdict(list)
_many: set[Callable] = set()  # handlers that take a list of events

ANY = "*"


def subscribe(event_name: str):
    """Decorator: `@subscribe("message.received")` or `@subscribe("*")` for every event."""

    def register(handler: Callable) -> Callable:
        if handler not in _subscribers[event_name]:
            _subscribers[event_name].append(handler)
        return handler

    return register


def subscribe_many(event_name: str):
    """Decorator: like `subscribe`, but the handler takes a list of events (see the module)."""

    def register(handler: Callable) -> Callable:
        _many.add(handler)
        return subscribe(event_name)(handler)

    return register


def unsubscribe(event_name: str, handler: Callable) -> None:
    if handler in _subscribers[event_name]:
        _subscribers[event_name].remove(handler)


def emit(event) -> None:
    """Call every handler subscribed to `event.name` and to every event."""
    for handler in [*_subscribers.get(event.name, ()), *_subscribers.get(ANY, ())]:
        handler([event]) if handler in _many else handler(event)


def emit_many(events: Sequence) -> None:
    """Emit `events` in order: per-event handlers once per event, batch handlers once."""
    if not events:
        return
    handlers: dict[Callable, list] = {}  # insertion order: per event name, then ANY
    for event in events:
        for handler in _subscribers.get(event.name, ()):
            handlers.setdefault(handler, []).append(event)
    for handler in _subscribers.get(ANY, ()):
        handlers.setdefault(handler, []).extend(events)
    for handler, wanted in handlers.items():
        if handler in _many:
            handler(wanted)
        else:
            for event in wanted:
                handler(event)


def notify(name: str, **data) -> None:
    """A notice that is not a contact Event (no row is recorded): e.g. "message.states", the
    delivery states of people's messages changed. Only subscribers of exactly `name` get it as
    an object with `.name` and the data; `ANY` subscribers do not (they handle Events)."""
    notice = SimpleNamespace(name=name, **data)
    for handler in list(_subscribers.get(name, ())):
        handler(notice)
