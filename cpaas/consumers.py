"""The one websocket endpoint: /ws/live/?topics=contacts,inbox. A socket joins only groups of
the workspace active in its session, only for topics its role may see, and for a topic that
registered a group resolver (the inbox), only the groups it names for this member."""

import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from redis.exceptions import RedisError

from .metrics import WEBSOCKETS
from .models import Membership
from .realtime import TOPICS, ensure_relay_running, topic_groups
from .roles import role_allows
from .tenancy import SESSION_KEY

log = logging.getLogger(__name__)


@database_sync_to_async
def _groups(membership, topics) -> list[str]:
    joined = []
    for topic in sorted(topics):
        if topic in TOPICS and role_allows(membership.role, TOPICS[topic]):
            joined += [g for g in topic_groups(membership, topic) if g not in joined]
    return joined


@database_sync_to_async
def _membership(user, session) -> Membership | None:
    workspace_id = session.get(SESSION_KEY) if session is not None else None
    if not workspace_id:
        return None
    return Membership.objects.filter(user=user, workspace_id=workspace_id, is_active=True).first()


class LiveConsumer(AsyncJsonWebsocketConsumer):
    async def __call__(self, scope, receive, send):
        """A channel layer that fails (Redis gone or timing out) ends this consumer: close the
        socket rather than leave it open and silent, so the page shows it is disconnected,
        reconnects and resyncs."""
        try:
            await super().__call__(scope, receive, send)
        except (RedisError, OSError) as exc:
            log.warning("live socket closed: channel layer failed: %r", exc)
            await send({"type": "websocket.close", "code": 1011})

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        membership = await _membership(user, self.scope.get("session"))
        if membership is None:
            await self.close(code=4403)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        wanted = {t for value in query.get("topics", []) for t in value.split(",") if t}
        self.groups_joined = await _groups(membership, wanted)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        WEBSOCKETS.inc()
        self.counted = True
        await ensure_relay_running()
        await self.send_json({"type": "hello", "groups": len(self.groups_joined)})

    async def disconnect(self, code):
        if getattr(self, "counted", False):
            WEBSOCKETS.dec()
            self.counted = False
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def realtime_event(self, message):
        await self.send_json(message["payload"])

    async def realtime_batch(self, message):
        for payload in message["payloads"]:  # one frame per event, as live.js expects
            await self.send_json(payload)
