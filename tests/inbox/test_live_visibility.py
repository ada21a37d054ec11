"""The inbox's websocket topic: an agent's socket hears the conversations of their queues only
(changes and who is viewing or typing), a supervisor's hears every queue, another workspace's
hears nothing; and a reply's delivery state recorded by the dispatcher is announced."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client

from cpaas.asgi import application
from inbox import live, presence
from tests.factories import MembershipFactory, UserFactory
from tests.inbox import ui

pytestmark = pytest.mark.django_db(transaction=True)


def _headers(user):
    client = Client()
    client.force_login(user)
    client.get("/inbox/")  # the session names the active workspace, as a page visit does
    return [
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        (b"origin", b"http://testserver"),
    ]


async def _socket(user):
    headers = await sync_to_async(_headers)(user)
    socket = WebsocketCommunicator(application, "/ws/live/?topics=inbox", headers=headers)
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from())["type"] == "hello"
    return socket


def _change(conversation, viewer):
    with transaction.atomic():
        live.conversation_changed(conversation, "message")
    presence.announce(conversation=conversation, user=viewer, state="typing")


async def _received(socket, count: int) -> list[dict]:
    """Exactly `count` events, then nothing more (a timeout ends a communicator: only
    receive_nothing may wait in vain)."""
    out = [await socket.receive_json_from(timeout=3) for _ in range(count)]
    assert await socket.receive_nothing(timeout=0.5), "more events than expected"
    return out


async def test_an_agent_hears_only_their_queues(workspace, other_workspace, agent, admin_user, other_admin):
    olga = await sync_to_async(UserFactory)(username="olga")
    await sync_to_async(MembershipFactory)(workspace=workspace, user=olga, role="agent")
    mine_q = await sync_to_async(ui.queue)(workspace, "collections", agent)
    theirs_q = await sync_to_async(ui.queue)(workspace, "support", olga)
    mine = await sync_to_async(ui.conversation)(workspace, mine_q, text="hello")
    theirs = await sync_to_async(ui.conversation)(workspace, theirs_q, text="secret")

    agent_socket = await _socket(agent)
    admin_socket = await _socket(admin_user)
    other_socket = await _socket(other_admin)

    # when another queue's conversation changes and someone types in it
    await sync_to_async(_change)(theirs, olga)
    # then the agent hears nothing, the supervisor hears both
    heard = await _received(admin_socket, 2)
    assert await agent_socket.receive_nothing(timeout=0.5)
    assert {(e["type"], e["number"]) for e in heard} == {
        ("inbox.conversation", theirs.number),
        ("inbox.presence", theirs.number),
    }

    # when the agent's own queue's conversation changes
    await sync_to_async(_change)(mine, olga)
    heard = await _received(agent_socket, 2)
    assert {(e["type"], e["number"]) for e in heard} == {
        ("inbox.conversation", mine.number),
        ("inbox.presence", mine.number),
    }
    assert [e["name"] for e in heard if e["type"] == "inbox.presence"] == ["olga"]
    # another workspace never hears any of it
    assert await other_socket.receive_nothing(timeout=0.5)
    for socket in (agent_socket, admin_socket, other_socket):
        await socket.disconnect()


def test_a_persons_message_state_change_announces_its_conversation(workspace, agent, monkeypatch):
    from channels_app import live as channels_live
    from consent.models import SentBy

    q = ui.queue(workspace, "collections", agent)
    c = ui.conversation(workspace, q, text="hello")
    announced = []
    monkeypatch.setattr(
        live, "conversation_changed", lambda conv, what, **kw: announced.append((conv.pk, what))
    )

    class M:
        def __init__(self, sent_by):
            self.contact_id, self.sent_by = c.contact_id, sent_by

    channels_live.person_states(workspace.pk, [M(SentBy.AUTOMATION)])
    assert announced == []  # a journey's send: nobody watches it message by message
    channels_live.person_states(workspace.pk, [M(SentBy.PERSON), M(SentBy.PERSON)])
    assert announced == [(c.pk, "message_status")]
