"""The engine as it runs: real `manage.py engine` (and dispatcher) processes on the test
database. Exactly-once under a killed worker (PostgreSQL), a reply racing a timeout, timer
precision."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from channels_app.models import Channel, Message, SandboxDelivery
from contacts.models import Contact
from journeys.models import Enrollment, JourneyCounter, Step
from journeys.services import journey_start
from tests.conftest import ROOT, _database_url
from tests.journeys.conftest import graph, linear, node, reply

pytestmark = pytest.mark.django_db(transaction=True)


def start(command, log_path, *args, env=None):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cpaas.settings.test",
        "DATABASE_URL": _database_url(connection.settings_dict),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), command, *args], cwd=ROOT, env=env,
        stdout=open(log_path, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def stop(process, sig=signal.SIGTERM):
    if process.poll() is None:
        os.killpg(process.pid, sig)
    process.wait(timeout=30)


def wait_for(check, timeout=120, every=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return False


def make_contacts(workspace, n):
    Contact.objects.bulk_create(
        [Contact(workspace=workspace, first_name=f"P{i}", phone=f"+447911{i:06d}") for i in range(n)],
        batch_size=2000,
    )
    return list(Contact.objects.filter(workspace=workspace).values_list("pk", flat=True))


def test_exactly_once_when_a_worker_is_killed_mid_run(workspace, publish, actor, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("several engines claiming with SKIP LOCKED: the PostgreSQL run covers it")
    # given 5,000 contacts started in a journey that sends twice with a wait between
    ids = make_contacts(workspace, 5000)
    Channel.objects.filter(workspace=workspace, kind="sms").update(
        rate_limit_per_second=20000
    )  # the sandbox's 100/s
    journey = publish(
        linear(("trigger.manual", {}), ("message.send", {"channel": "sms", "template": {"en": "First"}}),
               ("wait.delay", {"seconds": 1}), ("message.send", {"channel": "sms", "template": {"en": "Second"}}))
    )  # fmt: skip
    journey_start(journey=journey, actor=actor, contact_ids=ids)
    # when two engines run and one is killed (SIGKILL) in the middle of the run, then restarted
    workers = [start("engine", tmp_path / f"engine{i}.log", "--batch", "200") for i in (1, 2)]
    dispatcher = start("dispatcher", tmp_path / "dispatcher.log")
    try:
        assert wait_for(lambda: Message.objects.filter(workspace=workspace).count() > 1500, timeout=60)
        stop(workers[0], signal.SIGKILL)
        workers[0] = start("engine", tmp_path / "engine3.log", "--batch", "200")
        done = wait_for(lambda: not Enrollment.objects.filter(journey=journey, status__in=Enrollment.OPEN).exists()
                        and Enrollment.objects.filter(journey=journey).count() == 5000, timeout=180)  # fmt: skip
        assert done, (tmp_path / "engine2.log").read_text()[-2000:]
        assert wait_for(lambda: SandboxDelivery.objects.count() == 10000, timeout=120)
    finally:
        for p in [*workers, dispatcher]:
            stop(p)
    # then every contact got exactly the two messages, and the provider received each once
    per_contact = (
        Message.objects.filter(workspace=workspace, direction="out")
        .values("contact_id")
        .annotate(n=Count("id"))
    )
    assert {row["n"] for row in per_contact} == {2} and len(per_contact) == 5000
    assert (
        Message.objects.filter(text="First").count() == 5000
        and Message.objects.filter(text="Second").count() == 5000
    )
    assert Step.objects.filter(journey=journey, node="end").count() == 5000
    totals = dict(JourneyCounter.objects.filter(journey=journey, node="").values_list("key", "value"))
    assert (totals["enrolled"], totals["completed"], totals["active"]) == (5000, 5000, 0)


def test_a_reply_and_a_timeout_racing_for_one_enrolment_exactly_one_wins(workspace, publish, fire, tmp_path):
    from tests.factories import ContactFactory

    ask = {"channel": "sms", "template": {"en": "Yes?"}, "timeout_s": 2,
           "branches": [{"exit": "yes", "match": "keywords", "values": ["ok"]}]}  # fmt: skip
    g = graph(
        trigger=node("trigger.event", {"event": "signup"}, next="ask"),
        ask=node("message.ask", ask, yes="a", other=None, timeout="b", failed=None),
        a=node("message.send", {"channel": "sms", "template": {"en": "by reply"}}, next=None, failed=None),
        b=node("message.send", {"channel": "sms", "template": {"en": "by timeout"}}, next=None, failed=None),
    )  # fmt: skip
    journey = publish(g)
    contacts = [ContactFactory(workspace=workspace) for _ in range(20)]
    engine = start("engine", tmp_path / "engine.log")
    try:
        for c in contacts:
            fire(c, "signup")
        assert wait_for(
            lambda: Enrollment.objects.filter(journey=journey, status="waiting").count() == 20, timeout=30
        )
        deadline = Enrollment.objects.filter(journey=journey).order_by("wait_until").first().wait_until
        time.sleep(max(0.0, (deadline - timezone.now()).total_seconds() - 0.05))
        for c in contacts:  # the replies land just as the timers come due
            reply(c, "ok")
        assert wait_for(
            lambda: not Enrollment.objects.filter(journey=journey, status__in=Enrollment.OPEN).exists(),
            timeout=30,
        )
    finally:
        stop(engine)
    for c in contacts:
        e = Enrollment.objects.get(contact=c)
        exits = list(Step.objects.filter(enrollment=e, node="ask").values_list("exit", flat=True))
        texts = list(
            Message.objects.filter(contact=c, direction="out")
            .exclude(text="Yes?")
            .values_list("text", flat=True)
        )
        assert len(exits) == 1 and exits[0] in ("yes", "timeout")
        assert texts == ["by reply" if exits[0] == "yes" else "by timeout"]


def test_timers_fire_within_about_a_second(workspace, publish, fire, tmp_path):
    from tests.factories import ContactFactory

    journey = publish(linear(("trigger.event", {"event": "signup"}), ("wait.delay", {"seconds": 2})))
    contacts = [ContactFactory(workspace=workspace) for _ in range(30)]
    engine = start("engine", tmp_path / "engine.log")
    try:
        for c in contacts:
            fire(c, "signup")
            time.sleep(0.03)
        assert wait_for(
            lambda: Enrollment.objects.filter(journey=journey, status="completed").count() == 30, timeout=30
        )
    finally:
        stop(engine)
    late = []
    for e in Enrollment.objects.filter(journey=journey):
        waited = Step.objects.get(enrollment=e, node="n1")
        entered = Step.objects.get(enrollment=e, node="trigger").at
        late.append((waited.at - (entered + dt.timedelta(seconds=2))).total_seconds())
    late.sort()
    assert late[0] >= 0  # never early
    assert late[int(len(late) * 0.95) - 1] <= 1.0, late
