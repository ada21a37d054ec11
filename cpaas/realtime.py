"""Realtime events to browsers, from web and worker processes alike.

`publish(group, payload)` is the one way to push. It reaches only websockets subscribed to
that group, and groups are always per workspace (`workspace_group`), so a socket of another
workspace can never receive it. It fires only if the surrounding transaction commits:

- relay mode (embedded default): the event is a RealtimeEvent row written in the caller's
  transaction; every web process runs `Relay`, which reads committed rows past its cursor every
  REALTIME_RELAY_INTERVAL seconds (all of them, however many: a burst is caught up at once) and
  hands them to its in-memory channel layer;
- redis mode (REDIS_URL set): after commit, one `group_send` per group of what the transaction
  published (`batches`, as the relay does), never raising into the caller whose data committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.db.models import Q
from django.utils import timezone

from .loops import DATABASE_ERRORS, DatabaseGuard
from .models import RealtimeEvent

log = logging.getLogger(__name__)

BATCH_TYPE = "realtime.batch"  # several events of one group; the socket sends each as its own frame
# topic -> permission a socket's role needs to subscribe. Apps register their topics at import.
TOPICS: dict[str, str] = {}
# topic -> groups(membership): the groups a socket of that member joins for the topic, when
# the topic is narrower than the workspace (the inbox: only the agent's queues). Runs in a thread
# with database access at connect; the default is the one workspace group.
TOPIC_GROUPS: dict[str, Callable[[object], list[str]]] = {}


def register_topic(topic: str, permission: str, groups: Callable[[object], list[str]] | None = None) -> None:
    TOPICS[topic] = permission
    if groups is not None:
        TOPIC_GROUPS[topic] = groups
    else:
        TOPIC_GROUPS.pop(topic, None)


def topic_groups(membership, topic: str) -> list[str]:
    """The groups a socket of `membership` joins for `topic` (its role already allowed it)."""
    resolve = TOPIC_GROUPS.get(topic)
    if resolve is None:
        return [workspace_group(membership.workspace_id, topic)]
    return [g for g in resolve(membership) if g.startswith(f"ws.{membership.workspace_id}.")]


def workspace_group(workspace_id: int, topic: str) -> str:
    return f"ws.{workspace_id}.{topic}"


def publish(group: str, payload: dict) -> None:
    """Send `payload` (JSON) to every socket in `group` once the current transaction commits."""
    if settings.REALTIME_MODE == "relay":
        RealtimeEvent.objects.create(group=group, payload=payload)
        return

    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _send_logged([(group, payload)])
        return
    outbox = getattr(connection, "_realtime_outbox", None)
    if outbox is None:
        outbox = connection._realtime_outbox = _Outbox()
    # The event joins the outbox at commit through its own hook, so a rolled-back savepoint
    # drops it as Django drops any hook registered inside it...
    transaction.on_commit(lambda: outbox.events.append((group, payload)))
    # ...and the outbox is sent by one hook kept last and at the outermost level (no savepoint
    # ids, so no savepoint rollback removes it): one layer message per group per transaction.
    hooks = [hook for hook in connection.run_on_commit if hook[1] != outbox.flush]
    connection.run_on_commit = [*hooks, (set(), outbox.flush, True)]


class _Outbox:
    """A connection's events committed by its current transaction, waiting for the flush hook."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def flush(self) -> None:
        events, self.events = self.events, []
        _send_logged(events)


def _send_logged(events: list[tuple[str, dict]]) -> None:
    """Send to the Redis layer; a Redis failure is logged, not raised: the data committed, and
    sockets that miss events resync when they reconnect."""
    if not events:
        return
    try:
        async_to_sync(_send_batches)(events)
    except Exception:
        log.exception("realtime: %d events not sent to the channel layer", len(events))


async def _send_batches(events: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    for group, payloads in batches(events):
        await layer.group_send(group, {"type": BATCH_TYPE, "payloads": payloads})


class Relay:
    """Moves committed RealtimeEvent rows into this process's channel layer.

    It keeps `top`, the highest id it has delivered, and reads everything above it each poll,
    page after page, so a burst of any size is caught up within a poll or two. On PostgreSQL ids
    are taken at insert but become visible at commit, so a transaction that inserted earlier
    can commit after a higher id has been delivered: every id the relay steps over without
    seeing it is remembered as a gap (ranges of ids, so a big rolled-back batch costs one range)
    and looked for again each poll for GAP_WAIT. A gap that never fills is a rolled-back
    transaction (or one open for longer than GAP_WAIT, whose events are then not relayed)."""

    PAGE = 2000
    MAX_PAGES = 10  # per poll; a longer backlog continues at the next poll
    GAP_WAIT_S = 30.0
    PRUNE_AFTER = timedelta(minutes=10)
    PRUNE_EVERY_S = 60
    FIELDS = ("id", "group", "payload")

    def __init__(self) -> None:
        self.top = 0
        self.positioned = asyncio.Event()  # set once start_position has run (run() only)
        self.gaps: list[list] = []  # [first id, last id, monotonic time it was first missed]
        self.last_prune = 0.0

    def start_position(self) -> None:
        close_old_connections()
        latest = RealtimeEvent.objects.order_by("-id").values_list("id", flat=True).first()
        self.top = latest or 0

    def fetch(self) -> list[tuple[int, str, dict]]:
        close_old_connections()
        rows: list = []
        cursor = self.top
        for _ in range(self.MAX_PAGES):
            page = list(
                RealtimeEvent.objects.filter(id__gt=cursor)
                .order_by("id")
                .values_list(*self.FIELDS)[: self.PAGE]
            )
            rows += page
            if len(page) < self.PAGE:
                break
            cursor = page[-1][0]
        for start in range(0, len(self.gaps), 100):
            ranges = Q()
            for first, last, _since in self.gaps[start : start + 100]:
                ranges |= Q(id__gte=first, id__lte=last)
            rows += list(RealtimeEvent.objects.filter(ranges).values_list(*self.FIELDS))
        return rows

    def prune(self) -> int:
        """Delete rows older than PRUNE_AFTER (every socket has had them). A write: it runs in its
        own thread beside the polls, never inside one, since it may wait for the write lock (all
        of SQLite's busy timeout during a burst of writers) while the polls must go on."""
        try:
            return RealtimeEvent.objects.filter(created_at__lt=timezone.now() - self.PRUNE_AFTER).delete()[0]
        finally:
            connections.close_all()  # this thread's own connections: threads of the pool outlive the call

    def advance(self, rows) -> list[tuple[str, dict]]:
        """Return what to deliver, in id order, each row once; update `top` and the gaps."""
        fresh = []
        now = time.monotonic()
        for row_id, group, payload in sorted(rows, key=lambda row: row[0]):
            if row_id > self.top:
                if row_id > self.top + 1:
                    self.gaps.append([self.top + 1, row_id - 1, now])
                self.top = row_id
            elif not self._fill(row_id):
                continue  # delivered already
            fresh.append((group, payload))
        self.gaps = [gap for gap in self.gaps if now - gap[2] < self.GAP_WAIT_S]
        return fresh

    def _fill(self, row_id: int) -> bool:
        """Take `row_id` out of the gap holding it; False when no gap holds it."""
        for i, (first, last, since) in enumerate(self.gaps):
            if first <= row_id <= last:
                pieces = [[a, b, since] for a, b in ((first, row_id - 1), (row_id + 1, last)) if a <= b]
                self.gaps[i : i + 1] = pieces
                return True
        return False

    async def run(self) -> None:
        layer = get_channel_layer()
        guard = DatabaseGuard("realtime relay")
        try:
            await sync_to_async(self.start_position)()
        finally:
            self.positioned.set()  # a failed start ends this task; the next socket starts another
        pruning: asyncio.Task | None = None
        while True:
            if (
                pruning is None or pruning.done()
            ) and time.monotonic() - self.last_prune > self.PRUNE_EVERY_S:
                self.last_prune = time.monotonic()
                pruning = asyncio.create_task(self._prune_logged())
            try:
                rows = await sync_to_async(self.fetch)()
                guard.succeeded()
            except asyncio.CancelledError:
                raise
            except DATABASE_ERRORS as exc:  # keep relaying once the database is back
                await asyncio.sleep(await sync_to_async(guard.failed)(exc))
                continue
            for group, payloads in batches(self.advance(rows)):
                await layer.group_send(group, {"type": BATCH_TYPE, "payloads": payloads})
                await asyncio.sleep(0)  # let the sockets drain their queues during a burst
            await asyncio.sleep(settings.REALTIME_RELAY_INTERVAL)

    async def _prune_logged(self) -> None:
        try:
            await sync_to_async(self.prune, thread_sensitive=False)()
        except DATABASE_ERRORS as exc:  # the next prune will do it; the polls are what matter
            log.warning("realtime relay: old events not pruned (%s)", exc)


def batches(events: list[tuple[str, dict]], size: int = 500) -> list[tuple[str, list[dict]]]:
    """One channel-layer message per group and up to `size` events, in order: each layer message
    costs a consumer a database-connection check in a worker thread (channels does that before
    every message), which capped a socket near 700 events/s when each event was its own message."""
    by_group: dict[str, list[dict]] = {}
    for group, payload in events:
        by_group.setdefault(group, []).append(payload)
    return [(g, p[i : i + size]) for g, p in by_group.items() for i in range(0, len(p), size)]


_relay_tasks: dict[int, asyncio.Task] = {}


async def ensure_relay_running() -> None:
    """Start this process's relay in the running event loop (once per loop). It returns once the
    relay knows where it starts, so an event committed after the caller's next step (a socket's
    hello) is always relayed: positioned later, it took such events for old ones and skipped them."""
    if settings.REALTIME_MODE != "relay":
        return
    loop = asyncio.get_running_loop()
    task = _relay_tasks.get(id(loop))
    # a closed loop's id can be reused by a new loop (tests run one loop per test)
    if task is None or task.done() or task.get_loop() is not loop:
        relay = Relay()
        _relay_tasks[id(loop)] = task = loop.create_task(relay.run())
        task.positioned = relay.positioned  # sockets connecting meanwhile wait for the same start
    await task.positioned.wait()
