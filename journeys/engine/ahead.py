"""Timer storms fired at their instant, prepared ahead of it (PostgreSQL). Worked through after
their instant, 20,000 timers due at the same second fired seconds late (~1,000 a round per
engine); the work can be done before the instant instead, and only the commit left for it.

Each engine round (`run_round(ahead=True)`) looks at the next *pure timers* due within
`JOURNEYS_ENGINE_LOOKAHEAD_S`. When at least `STORM` of them are due in the same short window
(`WINDOW_S` from the first; fewer fire within a round or so of their instant anyway), and the
time left is about what advancing them costs this process (`Pace`, with a safety factor), a
background thread with its own connection claims them (SKIP LOCKED, at most
`JOURNEYS_ENGINE_AHEAD_BATCH`), advances them as of the instant the last of them is due,
writes everything, checks the deferred foreign keys, and commits at that instant: never
before it, so nobody sees a timer fire early (steps, messages and events carry the instant).
Meanwhile the engine goes on with whatever else is due; other engines skip the locked rows and
take the next ones. A killed engine rolls the prepared work back like any round.

Only pure timers (`wait.delay`, `wait.until`: nothing but their deadline can resume them): a
wait for a reply or an event is decided at its deadline, since the reply may still come. The
rows stay locked for the lead: a goal event or a cancel for one of these contacts waits for
the commit (at most the lookahead). Consent for a send after the timer is decided as of the
instant with what is known when it is prepared; the dispatcher decides again at hand-over."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Enrollment

log = logging.getLogger("journeys.engine")
WINDOW_S = 0.02  # timers due this close together fire together (the earliest up to this late)
STORM = 500  # timers in one window worth preparing ahead (a round takes up to 1,000 at once)
SAFETY = 2.0  # start this much earlier than the measured cost says (the engine is not blocked)
MARGIN_S = 0.2
RECOUNT_S = 1.0
LOOK_EVERY_S = 0.1  # rounds in between do not look (two queries each time)
PURE_TIMER = Q(status=Enrollment.Status.WAITING, wait_kind="timer", resume__isnull=True)


class Pace:
    """What one claimed enrolment costs this process, in seconds (moving average of its rounds;
    cautious until measured: being early only holds the rows longer)."""

    def __init__(self, per_item: float = 0.001):
        self.per_item = per_item

    def record(self, n: int, seconds: float) -> None:
        if n >= 20:  # small rounds are mostly fixed costs
            self.per_item = 0.7 * self.per_item + 0.3 * seconds / n

    def cost(self, n: int) -> float:
        return n * self.per_item

    def lead(self, n: int) -> float:
        return self.cost(n) * SAFETY + MARGIN_S


PACE = Pace()
_counted: tuple = (None, 0, 0.0)  # (first due time seen, how many in its window, when counted)
_looked = 0.0
_inflight: threading.Thread | None = None
_done_calls: list = []  # webhook calls of committed background rounds, for the engine's pool
_lock = threading.Lock()


def _enabled() -> bool:
    # SQLite: a transaction held open would hold the whole database's write lock
    return (
        connection.vendor == "postgresql"
        and settings.JOURNEYS_ENGINE_LOOKAHEAD_S > 0
        and settings.JOURNEYS_ENGINE_AHEAD_BATCH > 0
    )


def _timers(now: dt.datetime):
    from .runner import RUNNABLE

    horizon = dt.timedelta(seconds=settings.JOURNEYS_ENGINE_LOOKAHEAD_S)
    return Enrollment.objects.filter(RUNNABLE, PURE_TIMER, due_at__gt=now, due_at__lte=now + horizon)


def storm_due(now: dt.datetime) -> dt.datetime | None:
    """The first due time of the next storm if it is time to start preparing it, else None."""
    global _counted
    first = _timers(now).order_by("due_at").values_list("due_at", flat=True).first()
    if first is None:
        return None
    if _counted[0] != first or time.monotonic() - _counted[2] > RECOUNT_S:  # not at every round
        window = _timers(now).filter(due_at__lte=first + dt.timedelta(seconds=WINDOW_S)).order_by()
        _counted = (first, window[: settings.JOURNEYS_ENGINE_AHEAD_BATCH].count(), time.monotonic())
    left, count = (first - now).total_seconds(), _counted[1]
    if count < min(STORM, settings.JOURNEYS_ENGINE_AHEAD_BATCH):
        return None
    # even when it may not be ready in time, preparing it at once puts more of it nearer the
    # instant than ordinary rounds after it would (and the rest of the engine goes on)
    return first if left <= PACE.lead(count) else None


def kick(now: dt.datetime) -> list:
    """From the engine's loop: start preparing the next storm in the background when it is time
    (one at a time per process). Returns the webhook calls of background rounds that committed."""
    global _inflight, _looked
    with _lock:
        calls, _done_calls[:] = list(_done_calls), []
    if not _enabled() or (_inflight is not None and _inflight.is_alive()):
        return calls
    if time.monotonic() - _looked < LOOK_EVERY_S:
        return calls
    _looked = time.monotonic()
    first = storm_due(now)
    if first is not None:
        # not a daemon: an engine told to stop still commits what it prepared, at its instant
        _inflight = threading.Thread(target=_background, args=(first,), name="timers-ahead")
        _inflight.start()
    return calls


def _background(first: dt.datetime) -> None:
    from django.db import connections

    try:
        _n, calls = run_ahead(first=first)
        with _lock:
            _done_calls.extend(calls)
    except Exception:  # the timers stay due: a round fires them, late
        log.exception("preparing the timers due at %s failed", first.isoformat())
    finally:
        connections.close_all()  # this thread's own connection


def run_ahead(*, first: dt.datetime) -> tuple[int, list]:
    """Claim the pure timers due in the window that starts at `first`, advance them as of their
    instant, and commit at that instant. Returns (how many, webhook calls to make now)."""
    from .runner import claim, items_for, process, write

    started = time.monotonic()
    with transaction.atomic():
        enrollments = claim(  # that window only: overdue timers are ordinary rounds' work
            first + dt.timedelta(seconds=WINDOW_S),
            settings.JOURNEYS_ENGINE_AHEAD_BATCH,
            PURE_TIMER & Q(due_at__gte=first),
        )
        if not enrollments:
            return 0, []
        instant = max(e.due_at for e in enrollments)
        items = items_for(enrollments)
        batch = process(items, instant)
        write(batch, items, counters=False)
        with connection.cursor() as cursor:
            # foreign keys are checked at COMMIT (deferred): check them now, so that the commit
            # at the instant only writes its record (0.3 s sooner for 10,000 timers)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        prepared = time.monotonic() - started
        PACE.record(len(enrollments), prepared)
        log.info(
            "%s timers prepared in %.2f s, %.2f s before their instant",
            len(enrollments),
            prepared,
            (instant - timezone.now()).total_seconds(),
        )
        delay = (instant - timezone.now()).total_seconds()
        if delay > 0:
            time.sleep(delay)
        batch.flush_counts()  # last: other engines' rounds of this journey share these rows
    return len(enrollments), batch.calls
