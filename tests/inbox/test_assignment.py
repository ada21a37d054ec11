"""Auto-assignment: fair turns, a capacity per agent, away agents skipped, the oldest (most
urgent first) drained as places free, and agents going away by idle time."""

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from cpaas.tenancy import Actor
from inbox import assignment, services
from inbox.models import AgentStatus, Conversation, Queue
from tests.factories import ContactFactory
from tests.inbox.conftest import T0, make_agent, make_queue

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")


def _open(workspace, queue, n, start=T0, priority=None):
    out = []
    for i in range(n):
        contact = ContactFactory(workspace=workspace, phone=f"+4479{len(out) + start.minute * 1000 + i:08d}")
        conversation, _ = services.conversation_open_or_reopen(
            workspace=workspace, contact=contact, actor=SYSTEM, queue=queue, priority=priority,
            now=start + dt.timedelta(seconds=i),
        )  # fmt: skip
        out.append(conversation)
    return out


def _load(queue):
    return Counter(
        Conversation.objects.filter(queue=queue, assignee__isnull=False)
        .exclude(status="resolved")
        .values_list("assignee__username", flat=True)
    )


@pytest.mark.parametrize("mode", ["round_robin", "least_loaded"])
def test_200_conversations_and_5_agents_fill_every_capacity_fairly_then_drain_as_places_free(workspace, mode):
    queue = make_queue(workspace, "support", auto_assign=mode, capacity=30)
    agents = [make_agent(workspace, f"agent{i}", queues=[queue], online=True) for i in range(5)]
    conversations = _open(workspace, queue, 200)
    # every agent has exactly their capacity; the 150 oldest are assigned, the 50 newest wait
    assert _load(queue) == {f"agent{i}": 30 for i in range(5)}
    waiting = Conversation.objects.filter(queue=queue, assignee__isnull=True).order_by("opened_at")
    assert list(waiting.values_list("pk", flat=True)) == [c.pk for c in conversations[150:]]
    # turns alternate: the first 10 conversations went to 5 different agents, twice each
    firsts = Counter(Conversation.objects.filter(pk__in=[c.pk for c in conversations[:10]]).values_list(
        "assignee_id", flat=True))  # fmt: skip
    assert sorted(firsts.values()) == [2] * 5
    # resolving frees a place: the oldest waiting conversation goes to that agent
    done = Conversation.objects.filter(assignee=agents[2]).first()
    services.conversation_resolve(actor=SYSTEM, conversation=done, now=T0 + dt.timedelta(hours=1))
    oldest = conversations[150]
    oldest.refresh_from_db()
    assert oldest.assignee == agents[2]
    # agents resolve everything: the queue drains to the end, nobody above capacity
    for _round in range(3):
        for conversation in Conversation.objects.filter(queue=queue, assignee__isnull=False).exclude(
            status="resolved"
        )[:40]:
            services.conversation_resolve(
                actor=SYSTEM, conversation=conversation, now=T0 + dt.timedelta(hours=2)
            )
            assert max(_load(queue).values(), default=0) <= 30
    assert (
        not Conversation.objects.filter(queue=queue, assignee__isnull=True)
        .exclude(status="resolved")
        .exists()
    )


def test_least_loaded_gives_work_to_the_agent_with_least(workspace):
    queue = make_queue(workspace, "support", auto_assign="least_loaded", capacity=10)
    busy = make_agent(workspace, "busy", queues=[queue], online=True)
    _open(workspace, queue, 4)  # all to busy: the only one online
    free = make_agent(workspace, "free", queues=[queue])
    services.agent_status_set(actor=SYSTEM, workspace=workspace, user=free, availability="online")
    _open(workspace, queue, 4, start=T0 + dt.timedelta(minutes=1))
    assert _load(queue) == {"busy": 4, "free": 4}
    assert busy.pk != free.pk


def test_away_and_offline_agents_get_nothing_and_coming_back_drains_the_queue(workspace):
    queue = make_queue(workspace, "support", auto_assign="round_robin", capacity=2)
    on = make_agent(workspace, "on", queues=[queue], online=True)
    away = make_agent(workspace, "away", queues=[queue])
    AgentStatus.objects.create(workspace=workspace, user=away, availability="away", changed_at=T0)
    make_agent(workspace, "off", queues=[queue])  # no status row: offline
    viewer = make_agent(workspace, "viewer", queues=[queue], online=True, role="viewer")  # may not reply
    _open(workspace, queue, 5)
    assert _load(queue) == {"on": 2}
    services.agent_status_set(actor=SYSTEM, workspace=workspace, user=away, availability="online")
    assert _load(queue) == {"on": 2, "away": 2}
    assert viewer.pk not in set(Conversation.objects.values_list("assignee_id", flat=True))
    assert on.pk


def test_urgent_conversations_go_first_then_the_oldest(workspace):
    queue = make_queue(workspace, "support", auto_assign="round_robin", capacity=1)
    old = _open(workspace, queue, 1)[0]
    urgent = _open(workspace, queue, 1, start=T0 + dt.timedelta(minutes=5), priority="urgent")[0]
    agent = make_agent(workspace, "jo", queues=[queue])
    services.agent_status_set(actor=SYSTEM, workspace=workspace, user=agent, availability="online")
    urgent.refresh_from_db()
    old.refresh_from_db()
    assert urgent.assignee == agent and old.assignee is None


def test_a_queue_without_auto_assignment_waits_for_claims(workspace):
    queue = make_queue(workspace, "support")
    make_agent(workspace, "jo", queues=[queue], online=True)
    _open(workspace, queue, 3)
    assert not _load(queue)
    assert assignment.drain_all() == 0


def test_a_transfer_frees_the_agent_s_place(workspace):
    queue = make_queue(workspace, "support", auto_assign="round_robin", capacity=1)
    other = make_queue(workspace, "billing")
    agent = make_agent(workspace, "jo", queues=[queue], online=True)
    first, second = _open(workspace, queue, 2)
    first.refresh_from_db()
    assert first.assignee == agent
    services.conversation_transfer(actor=SYSTEM, conversation=first, queue=other, note="billing")
    second.refresh_from_db()
    assert second.assignee == agent


def test_idle_agents_become_away_and_activity_brings_them_back(workspace):
    queue = make_queue(workspace, "support", auto_assign="round_robin", capacity=5)
    agent = make_agent(workspace, "jo", queues=[queue], online=True, now=T0)
    assert services.idle_agents_away(now=T0 + dt.timedelta(minutes=14)) == 0
    assert services.idle_agents_away(now=T0 + dt.timedelta(minutes=16)) == 1
    status = AgentStatus.objects.get(user=agent)
    assert status.availability == "away" and status.set_by == "idle"
    _open(workspace, queue, 2, start=T0 + dt.timedelta(minutes=17))
    assert not _load(queue)
    services.agent_seen(workspace=workspace, user=agent, now=T0 + dt.timedelta(minutes=20))
    assert AgentStatus.objects.get(user=agent).availability == "online"
    assert _load(queue) == {"jo": 2}
    # away by hand stays away whatever the agent does
    services.agent_status_set(actor=SYSTEM, workspace=workspace, user=agent, availability="away")
    services.agent_seen(workspace=workspace, user=agent, now=timezone.now())
    assert AgentStatus.objects.get(user=agent).availability == "away"


def test_queue_is_created_by_a_hand_off_name_once(workspace):
    a = services.queue_for_name(workspace, "collections")
    b = services.queue_for_name(workspace, "collections")
    assert a == b and Queue.objects.filter(workspace=workspace).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_drains_never_exceed_a_capacity(workspace):
    """Four processes' worth of drains at once (PostgreSQL: row locks, SKIP LOCKED)."""
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers")
    queue = make_queue(workspace, "support", capacity=7)
    for i in range(5):
        make_agent(workspace, f"agent{i}", queues=[queue], online=True)
    _open(workspace, queue, 60)  # auto-assignment off: all wait
    Queue.objects.filter(pk=queue.pk).update(auto_assign="least_loaded")
    barrier = threading.Barrier(4)
    errors = []

    def drain():
        try:
            barrier.wait()
            assignment.drain(workspace=workspace, queue_ids=[queue.pk])
        except Exception as exc:  # pragma: no cover (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _load(queue) == {f"agent{i}": 7 for i in range(5)}
    assigned = Conversation.objects.filter(queue=queue, assignee__isnull=False).count()
    assert assigned == 35
    from inbox.models import Entry

    assert Entry.objects.filter(kind="assigned").count() == 35  # each assigned once


def test_the_worker_s_sweep_is_scheduled_every_minute_and_does_each_part(workspace):
    from django_q.models import Schedule

    from inbox.tasks import inbox_sweep_task

    schedule = Schedule.objects.get(func="inbox.tasks.inbox_sweep_task")
    assert schedule.schedule_type == "I" and schedule.minutes == 1
    queue = make_queue(workspace, "support")
    agent = make_agent(
        workspace, "jo", queues=[queue], online=True, now=timezone.now() - dt.timedelta(hours=1)
    )
    _open(workspace, queue, 2, start=timezone.now())
    Queue.objects.filter(pk=queue.pk).update(auto_assign="round_robin")  # a change the services did not see
    AgentStatus.objects.create(
        workspace=workspace, user=make_agent(workspace, "ann", queues=[queue]), availability="online",
        changed_at=timezone.now(), last_seen_at=timezone.now(),
    )  # fmt: skip
    result = inbox_sweep_task()
    assert result["away"] == 1 and AgentStatus.objects.get(user=agent).availability == "away"
    assert result["assigned"] == 2 and _load(queue) == {"ann": 2}


@pytest.mark.django_db(transaction=True)
def test_a_drain_inside_a_transaction_never_waits_for_the_assignment_lock(workspace):
    """A journey round holds the workspace's assignment lock (numbering its hand-offs) and is
    about to lock a conversation an agent is resolving: the agent's drain must not wait for it
    (that would be a deadlock); it drains once the agent's transaction has committed."""
    import threading

    from django.db import connection, connections, transaction

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")
    queue = make_queue(workspace, "support", auto_assign="round_robin", capacity=1)
    agent = make_agent(workspace, "jo", queues=[queue], online=True)
    first, second = _open(workspace, queue, 2, start=timezone.now())
    first.refresh_from_db()
    assert first.assignee == agent
    locked, resolved_inside = threading.Event(), threading.Event()
    problems = []

    def round_holding_the_lock():
        try:
            with transaction.atomic():
                list(InboxSettings.objects.select_for_update().filter(pk=workspace.pk).values_list("pk"))
                locked.set()
                if not resolved_inside.wait(timeout=10):
                    problems.append("the agent's resolve waited for the assignment lock")
        finally:
            connections.close_all()

    from inbox.models import InboxSettings

    holder = threading.Thread(target=round_holding_the_lock)
    holder.start()
    assert locked.wait(timeout=10)
    with transaction.atomic():
        services.conversation_resolve(actor=SYSTEM, conversation=first)
        resolved_inside.set()
    holder.join()
    assert problems == []
    second.refresh_from_db()
    assert second.assignee == agent  # drained after commit, once the lock was free
