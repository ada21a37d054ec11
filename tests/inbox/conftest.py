"""Inbox test helpers: agents in queues, an inbound message through the real inbound pipeline
(the phone simulator's webhook), the journey fixtures (publish, fire, engine)."""

import datetime as dt

import pytest

from cpaas.models import Membership
from cpaas.tenancy import Actor
from inbox.models import AgentStatus, Queue, QueueMember
from tests.factories import ContactFactory, UserFactory
from tests.journeys.conftest import engine, fire, publish  # noqa: F401  (fixtures)

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


@pytest.fixture
def actor(admin_user):
    return Actor.for_user(admin_user)


@pytest.fixture
def contact(workspace):
    return ContactFactory(workspace=workspace, first_name="Ada", last_name="Lovelace", phone="+447911123456")


def make_agent(workspace, name, *, queues=(), online=False, role="agent", now=None):
    user = UserFactory(username=name)
    Membership.objects.create(workspace=workspace, user=user, role=role)
    for queue in queues:
        QueueMember.objects.create(queue=queue, user=user)
    if online:
        AgentStatus.objects.create(
            workspace=workspace,
            user=user,
            availability="online",
            changed_at=now or T0,
            last_seen_at=now or T0,
        )
    return user


def make_queue(workspace, name="support", **fields):
    return Queue.objects.create(workspace=workspace, name=name, label=name.title(), **fields)


def inbound(contact, text, kind="sms", now=None):
    """The contact writes: the real inbound path (webhook → message → consent keywords → event)."""
    from channels_app.services.simulator import simulator_reply

    return simulator_reply(workspace=contact.workspace, contact=contact, kind=kind, text=text, now=now or T0)
