"""Journey test helpers: graphs in a few lines, a published journey, the engine run to rest."""

import copy
import datetime as dt

import pytest
from django.utils import timezone

from cpaas.tenancy import Actor
from tests.factories import ContactFactory

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


def node(type_, config=None, **exits):
    return {"type": type_, "config": copy.deepcopy(config or {}), "exits": exits}


def graph(start="trigger", **nodes):
    return {"schema": 1, "start": start, "nodes": nodes}


def linear(trigger, *middle, end=True):
    """trigger -> n1 -> n2 ... -> exit; each middle item is (type, config) and leaves by 'next'
    (other exits end)."""
    from journeys.nodes import REGISTRY

    nodes = {}
    ids = ["trigger"] + [f"n{i}" for i in range(1, len(middle) + 1)] + (["end"] if end else [])
    nodes["trigger"] = node(trigger[0], trigger[1])
    for i, (type_, config) in enumerate(middle, 1):
        nodes[f"n{i}"] = node(type_, config)
    if end:
        nodes["end"] = node("exit")
    for i, nid in enumerate(ids[:-1]):
        spec = REGISTRY[nodes[nid]["type"]]
        names = spec.exit_names(nodes[nid]["config"])
        first = "next" if "next" in names else names[0]
        nodes[nid]["exits"] = {n: (ids[i + 1] if n == first else None) for n in names}
    return graph(**nodes)


@pytest.fixture
def actor(admin_user):
    return Actor.for_user(admin_user)


@pytest.fixture
def publish(workspace, actor):
    from journeys.services import journey_create, journey_publish

    def _publish(g, name="J", now=None, **rules):
        journey = journey_create(workspace=workspace, actor=actor, name=name, graph=g, rules=rules)
        journey_publish(journey=journey, actor=actor, now=now or timezone.now())
        journey.refresh_from_db()
        return journey

    return _publish


@pytest.fixture
def contact(workspace):
    return ContactFactory(workspace=workspace, first_name="Ada", language="en", phone="+447911123456")


@pytest.fixture
def fire(workspace):
    """fire(contact, name, **props) records an event (as the API would)."""
    from contacts.services import event_record

    def _fire(contact, name, now=None, key=None, **props):
        return event_record(
            workspace=workspace, contact=contact, name=name, properties=props, now=now, idempotency_key=key
        )[0]

    return _fire


@pytest.fixture
def engine():
    """engine(now) runs every due enrolment (and webhook) to rest at `now`."""
    from journeys.engine import run_pending

    def _run(now=None):
        return run_pending(now=now or timezone.now())

    return _run


def texts_to(contact):
    from channels_app.models import Message

    return list(
        Message.objects.filter(contact=contact, direction="out")
        .order_by("created_at", "id")
        .values_list("text", flat=True)
    )


def reply(contact, text, kind="sms", now=None, button=""):
    from channels_app.services.simulator import simulator_reply

    return simulator_reply(
        workspace=contact.workspace,
        contact=contact,
        kind=kind,
        text=text,
        button=button,
        now=now or timezone.now(),
    )
