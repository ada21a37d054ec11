"""Conversation numbers: distinct per workspace, and on PostgreSQL given without waiting for
another opening's transaction (an inbound burst opened ~5 conversations/s when every opening
held the workspace's counter row until its webhook committed)."""

import threading

import pytest
from django.db import connection, transaction

from inbox import services
from inbox.models import Conversation
from tests.factories import ContactFactory
from tests.inbox.conftest import T0, inbound


def _open(workspace, contact, actor):
    return services.conversation_open_or_reopen(workspace=workspace, contact=contact, actor=actor, now=T0)[0]


@pytest.mark.django_db(transaction=True)
def test_two_openings_in_one_workspace_do_not_wait_for_each_other(workspace, actor):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    first, second, third = (ContactFactory(workspace=workspace, phone=f"+4479111234{n:02}") for n in range(3))
    inbound(first, "hello")  # the workspace has numbered a conversation before
    opened_by_a = threading.Event()
    b_done = threading.Event()
    results: dict = {}

    def a():
        try:
            with transaction.atomic():
                results["a"] = _open(workspace, second, actor).number
                opened_by_a.set()
                # the webhook's transaction goes on (messages, events) while B opens its own
                b_done.wait(10)
        finally:
            connection.close()

    def b():
        try:
            opened_by_a.wait(10)
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                results["b"] = _open(workspace, third, actor).number
        except Exception as exc:  # a lock wait shows here as "canceling statement due to lock timeout"
            results["b"] = exc
        finally:
            b_done.set()
            connection.close()

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # then B opened its conversation while A's transaction was still open, with its own number
    assert isinstance(results["b"], int), results["b"]
    assert results["a"] != results["b"] and {results["a"], results["b"]} <= {2, 3}
    numbers = list(Conversation.objects.filter(workspace=workspace).values_list("number", flat=True))
    assert sorted(numbers) == [1, 2, 3]


@pytest.mark.django_db
def test_numbers_continue_per_workspace(workspace, other_workspace, actor):
    mine = [ContactFactory(workspace=workspace, phone=f"+4479111235{n:02}") for n in range(3)]
    theirs = ContactFactory(workspace=other_workspace, phone="+447911123600")
    assert [_open(workspace, c, actor).number for c in mine] == [1, 2, 3]
    other_actor = actor  # the service checks the contact's workspace, not the actor's
    assert _open(other_workspace, theirs, other_actor).number == 1
