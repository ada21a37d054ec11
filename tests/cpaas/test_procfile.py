"""The Procfile, as an operator starts it with one command (`make scale`): honcho runs web x2, engine x2,
dispatcher x2 and the task worker on PostgreSQL (and Redis in the Redis-mode pass). Work sent
through both web processes is done by the loops and the worker; SIGTERM stops everything
cleanly."""

import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest
from django.db import connection
from django.utils import timezone
from django_q.conf import Conf

from channels_app.models import SandboxDelivery
from contacts.imports import import_start, import_upload
from contacts.models import Contact
from cpaas.models import Heartbeat
from cpaas.tenancy import Actor
from journeys.models import Enrollment
from tests.conftest import ROOT, _free_port
from tests.journeys.conftest import linear
from tests.topology import process_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

TOPOLOGY = "web=2,engine=2,dispatcher=2,worker=1"


def post(url, token, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def test_the_procfile_topology_starts_does_the_work_and_stops_cleanly(
    workspace, admin_user, api_token, tmp_path, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip("the scale-out topology runs on PostgreSQL")
    from journeys.services import journey_create, journey_publish

    actor = Actor.for_user(admin_user)
    g = linear(
        ("trigger.event", {"event": "signup"}),
        ("message.send", {"channel": "sms", "template": {"en": "Welcome"}}),
    )
    journey = journey_create(workspace=workspace, actor=actor, name="Welcome", graph=g)
    journey_publish(journey=journey, actor=actor, now=timezone.now())
    base = _free_port()
    env = process_env(PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    log = tmp_path / "honcho.log"
    honcho = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "procfile.py"), "start", "-f", str(ROOT / "Procfile"), "-c", TOPOLOGY, "-p", str(base)],
        cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    webs = [f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 1}"]
    try:
        # given the whole topology up: both web processes answer and every loop beats
        assert wait_for(lambda: all(answers(w + "/healthz") for w in webs), timeout=90), log.read_text()[
            -3000:
        ]
        assert wait_for(lambda: answers(webs[0] + "/readyz"), timeout=60), log.read_text()[-3000:]
        # when events arrive through both web processes (a journey sends on each)...
        for i in range(20):
            status = post(webs[i % 2] + "/api/v1/events/", api_token.key,
                          {"contact": {"phone": f"+4479111{i:05d}"}, "name": "signup"})  # fmt: skip
            assert status == 201
        # ...and an import is queued for the task worker
        monkeypatch.setattr(Conf, "SYNC", False)
        upload = import_upload(workspace=workspace, actor=actor, filename="one.csv",
                               content=b"first_name,last_name,phone\nWorker,Made,07911 123888\n")  # fmt: skip
        import_start(contact_import=upload, actor=actor, mapping=upload.mapping)
        # then the engines and dispatchers deliver every message once, and the worker imports
        assert wait_for(lambda: SandboxDelivery.objects.count() >= 20, timeout=120), log.read_text()[-3000:]
        assert wait_for(lambda: Contact.objects.filter(first_name="Worker").exists(), timeout=60)
        assert Enrollment.objects.filter(journey=journey, status="completed").count() == 20
        # and either web process's /metrics adds up what the two dispatchers counted
        from tests.cpaas.test_metrics import scrape, value

        with urllib.request.urlopen(webs[1] + "/metrics", timeout=30) as response:
            samples = scrape(response.read().decode())
        assert value(samples, "cpaas_dispatch_results_total", kind="sms", outcome="accepted") == 20
        kinds = sorted(Heartbeat.objects.values_list("kind", flat=True))
        assert kinds.count("engine") == 2 and kinds.count("dispatcher") == 2, kinds
        assert honcho.poll() is None, log.read_text()[-3000:]
    finally:
        # when it is stopped (SIGTERM to honcho, as a supervisor does)
        if honcho.poll() is None:
            os.kill(honcho.pid, signal.SIGTERM)
        code = honcho.wait(timeout=60)
    text = log.read_text()
    # then every process stopped on its own, none had to be killed
    assert text.count(" stopped (rc=") == 7, text[-3000:]
    assert "SIGKILL" not in text, text[-3000:]
    assert code in (0, 130, 143), text[-3000:]
    assert SandboxDelivery.objects.count() == 20
    assert not Heartbeat.objects.filter(kind__in=["engine", "dispatcher"]).exists()  # removed on a clean stop
