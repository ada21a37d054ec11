"""Realtime events to browsers, from web and worker processes alike.

`publish(group, payload)` is the one way to push. It reaches only websockets subscribed to
that group, and groups are always per workspace (`workspace_group`), so a socket of another
workspace can never receive it. It fires only if the surrounding transaction commits:

- relay mode (embedded default): the event is a RealtimeEvent row written in the caller's
  transaction; every web process runs `Relay`, which reads committed rows past its cursor every
  REALTIME_RELAY_INTERVAL seconds and hands them to its in-memory channel layer;
- redis mode (REDIS_URL set): `group_send` on the Redis channel layer after commit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from .models import RealtimeEvent

log = logging.getLogger(__name__)

MESSAGE_TYPE = "realtime.event"
# topic -> permission a socket's role needs to subscribe. Apps register their topics at import.
TOPICS: dict[str, str] = {}


def register_topic(topic: str, permission: str) -> None:
    TOPICS[topic] = permission


def workspace_group(workspace_id: int, topic: str) -> str:
    return f"ws.{workspace_id}.{topic}"


def publish(group: str, payload: dict) -> None:
    """Send `payload` (JSON) to every socket in `group` once the current transaction commits."""
    if settings.REALTIME_MODE == "relay":
        RealtimeEvent.objects.create(group=group, payload=payload)
        return

    def send() -> None:
        async_to_sync(get_channel_layer().group_send)(group, {"type": MESSAGE_TYPE, "payload": payload})

    transaction.on_commit(send)


class Relay:
    """Moves committed RealtimeEvent rows into this process's channel layer.

    Rows can commit out of id order on PostgreSQL, so the relay re-reads a window of recent
    rows and remembers which ids it has delivered instead of trusting a single cursor."""

    WINDOW = timedelta(seconds=30)
    PRUNE_AFTER = timedelta(minutes=10)
    PRUNE_EVERY_S = 60

    def __init__(self) -> None:
        self.floor = 0
        self.delivered: dict[int, float] = {}
        self.last_prune = 0.0

    def start_position(self) -> None:
        close_old_connections()
        latest = RealtimeEvent.objects.order_by("-id").values_list("id", flat=True).first()
        self.floor = latest or 0

    def fetch(self) -> list[tuple[int, str, dict, object]]:
        close_old_connections()
        rows = list(
            RealtimeEvent.objects.filter(id__gt=self.floor)
            .order_by("id")
            .values_list("id", "group", "payload", "created_at")[:1000]
        )
        now = time.monotonic()
        if now - self.last_prune > self.PRUNE_EVERY_S:
            self.last_prune = now
            RealtimeEvent.objects.filter(created_at__lt=timezone.now() - self.PRUNE_AFTER).delete()
        return rows

    def advance(self, rows) -> list[tuple[str, dict]]:
        """Return what to deliver and move the floor past rows older than the window."""
        fresh = []
        horizon = timezone.now() - self.WINDOW
        for row_id, group, payload, created_at in rows:
            if row_id not in self.delivered:
                self.delivered[row_id] = time.monotonic()
                fresh.append((group, payload))
            if created_at < horizon:
                self.floor = max(self.floor, row_id)
        self.delivered = {i: t for i, t in self.delivered.items() if i > self.floor}
        return fresh

    async def run(self) -> None:
        layer = get_channel_layer()
        await sync_to_async(self.start_position)()
        while True:
            try:
                rows = await sync_to_async(self.fetch)()
                for group, payload in self.advance(rows):
                    await layer.group_send(group, {"type": MESSAGE_TYPE, "payload": payload})
            except asyncio.CancelledError:
                raise
            except Exception:  # keep relaying after a transient database error
                log.exception("realtime relay failed; retrying")
                await asyncio.sleep(1)
            await asyncio.sleep(settings.REALTIME_RELAY_INTERVAL)


_relay_tasks: dict[int, asyncio.Task] = {}


def ensure_relay_running() -> None:
    """Start this process's relay in the running event loop (once per loop)."""
    if settings.REALTIME_MODE != "relay":
        return
    loop = asyncio.get_running_loop()
    task = _relay_tasks.get(id(loop))
    if task is None or task.done():
        _relay_tasks[id(loop)] = loop.create_task(Relay().run())
