"""Redis mode (REDIS_URL set): sockets outlive quiet spells and bursts, and a transaction's
events travel as one channel-layer message per group. Run with REDIS_URL pointing at a
private redis-server; skipped otherwise."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings as django_settings
from django.db import transaction

from cpaas.realtime import BATCH_TYPE, publish, workspace_group

from .test_realtime import _connect, _drain, _new_channel, _publish_burst

pytestmark = pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs REDIS_URL (a redis-server)")


@pytest.mark.django_db(transaction=True)
async def test_a_socket_still_receives_after_a_quiet_spell_longer_than_the_layers_blocking_read(
    workspace, admin_user, settings
):
    """channels_redis blocks 5 s in BZPOPMIN while redis-py 8 gives up reading after 5 s: the
    socket's receive loop died with redis's TimeoutError and live updates stopped silently."""
    settings.REALTIME_MODE = "redis"
    layer = get_channel_layer()
    socket, connected, _ = await _connect(admin_user)
    assert connected and (await socket.receive_json_from())["type"] == "hello"
    # given nothing happens for longer than the layer's blocking read
    await asyncio.sleep(layer.brpop_timeout * 2 + 1)
    # when an event is published, the socket still shows it
    await sync_to_async(_publish_burst, thread_sensitive=False)(workspace.pk, range(1), 1)
    assert (await socket.receive_json_from(timeout=5))["n"] == 0
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_burst_reaches_a_redis_mode_socket_whole(workspace, admin_user, settings):
    settings.REALTIME_MODE = "redis"
    socket, connected, _ = await _connect(admin_user)
    assert connected and (await socket.receive_json_from())["type"] == "hello"
    await asyncio.gather(
        *(
            sync_to_async(_publish_burst, thread_sensitive=False)(workspace.pk, range(k, k + 3000), 25)
            for k in (0, 3000)
        )
    )
    received = [(await socket.receive_json_from(timeout=15))["n"] for _ in range(6000)]
    assert sorted(received) == list(range(6000))
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
def test_a_transactions_events_go_as_one_layer_message_per_group(settings):
    """One group_send per event cost a Redis round trip per event per socket; the relay sends
    a batch per group, and Redis mode now does the same at commit."""
    settings.REALTIME_MODE = "redis"
    layer = get_channel_layer()
    first, second = workspace_group(1, "contacts"), workspace_group(1, "inbox")
    channels = {g: asyncio.run(_new_channel(layer, g)) for g in (first, second)}
    with transaction.atomic():
        for n in range(50):
            publish(first, {"n": n})
        publish(second, {"n": "other"})
    got_first = asyncio.run(_drain(layer, channels[first]))
    got_second = asyncio.run(_drain(layer, channels[second]))
    assert [m["type"] for m in got_first] == [BATCH_TYPE]
    assert [p["n"] for p in got_first[0]["payloads"]] == list(range(50))
    assert [p["n"] for p in got_second[0]["payloads"]] == ["other"]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_savepoints_events_stay_unsent_and_the_rest_go(settings):
    settings.REALTIME_MODE = "redis"
    layer = get_channel_layer()
    group = workspace_group(1, "contacts")
    channel = asyncio.run(_new_channel(layer, group))
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            publish(group, {"n": "rolled back"})  # the first publish, inside the savepoint
            raise RuntimeError
        publish(group, {"n": "kept"})
    received = asyncio.run(_drain(layer, channel))
    assert [p["n"] for m in received for p in m["payloads"]] == ["kept"]
