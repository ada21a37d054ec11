"""`manage.py serve` keeps the app up: a child killed with SIGKILL comes back while the others
(the web server included) go on; a child that keeps dying makes serve stop everything and exit
non-zero, so an outside supervisor restarts it."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from django.db import connection

from tests.conftest import ROOT, _database_url, _free_port

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is not alive
        return f.read().split(") ", 1)[1][0] != "Z"


class Serve:
    def __init__(self, tmp_path, *args):
        self.port = _free_port()
        self.log = tmp_path / "serve.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cpaas.settings.test",
            "DATABASE_URL": _database_url(connection.settings_dict),
            "Q_SYNC": "0",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "serve", "--port", str(self.port), *args],
            cwd=ROOT, env=env, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def text(self) -> str:
        return self.log.read_text()

    def pids(self, name: str) -> list[int]:
        """Every pid serve has started `name` with, oldest first."""
        return [int(p) for p in re.findall(rf"(?:re)?started {name} \(pid (\d+)\)", self.text())]

    def web_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/login/", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def test_serve_restarts_a_killed_child_and_gives_up_after_its_limit(tmp_path):
    serve = Serve(tmp_path, "--max-restarts", "2", "--restart-backoff", "0.2")
    try:
        assert wait_for(serve.web_answers), serve.text()[-3000:]
        web = serve.pids("web")[0]
        # when the engine is killed with SIGKILL
        first = serve.pids("engine")[0]
        os.kill(first, signal.SIGKILL)
        # then it comes back as a new process, and serve and the web server never stopped
        assert wait_for(lambda: len(serve.pids("engine")) == 2), serve.text()[-3000:]
        second = serve.pids("engine")[1]
        assert second != first and alive(second)
        assert serve.process.poll() is None and serve.web_answers() and serve.pids("web") == [web]
        # when it keeps dying, past the limit of 2 restarts
        os.kill(second, signal.SIGKILL)
        assert wait_for(lambda: len(serve.pids("engine")) == 3), serve.text()[-3000:]
        os.kill(serve.pids("engine")[2], signal.SIGKILL)
        # then serve gives up: it stops every process and exits non-zero
        assert serve.process.wait(timeout=60) != 0, serve.text()[-3000:]
    finally:
        serve.stop()
    everyone = [pid for name in ("web", "worker", "dispatcher", "engine") for pid in serve.pids(name)]
    assert len(everyone) == 6 and not any(alive(pid) for pid in everyone), serve.text()[-3000:]
    assert "giving up" in serve.text()


def test_serve_stops_cleanly_on_sigterm(tmp_path):
    serve = Serve(tmp_path)
    try:
        assert wait_for(serve.web_answers), serve.text()[-3000:]
        os.killpg(serve.process.pid, signal.SIGTERM)
        assert serve.process.wait(timeout=30) == 0, serve.text()[-3000:]
    finally:
        serve.stop()
    everyone = [pid for name in ("web", "worker", "dispatcher", "engine") for pid in serve.pids(name)]
    assert len(everyone) == 4 and not any(alive(pid) for pid in everyone)


def test_serve_prints_the_readiness_report_once_its_loops_beat(tmp_path):
    import json

    serve = Serve(tmp_path)
    try:
        assert wait_for(lambda: "readiness (/readyz)" in serve.text(), timeout=90), serve.text()[-3000:]
        line = next(ln for ln in serve.text().splitlines() if "readiness (/readyz)" in ln)
        report = json.loads(line.split(": ", 2)[2])
        # the same report as /readyz: ready once the engine and dispatcher it started beat
        assert report["status"] == "ok", report
        assert report["checks"]["loop.engine"]["ok"] and report["checks"]["loop.dispatcher"]["ok"]
        assert report["checks"]["database"] == {"ok": True}
    finally:
        serve.stop()
