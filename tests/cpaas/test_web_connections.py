"""The web process's PostgreSQL connections are bounded: a burst of concurrent API requests
against a served app borrows from a pool of DB_POOL_MAX connections and waits for one when all
are taken, instead of opening one per request thread until PostgreSQL refuses (500s)."""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from tests import faults
from tests.conftest import ROOT, _database_url, _free_port
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)

APP = "web-under-test"
POOL = 6


def test_a_burst_of_requests_shares_a_bounded_pool_and_gets_no_5xx(workspace, api_token):
    if connection.vendor != "postgresql":
        pytest.skip("the pool is PostgreSQL's (SQLite has no connection limit to exhaust)")
    ContactFactory.create_batch(30, workspace=workspace)
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cpaas.settings.test", "PYTHONUNBUFFERED": "1",
           "DATABASE_URL": _database_url(connection.settings_dict), "PGAPPNAME": APP,
           "DB_POOL_MAX": str(POOL), "API_TOKEN_RATE": "100000/min"}  # fmt: skip
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.pop("DB_POOL", None)  # the web process turns it on itself (cpaas/asgi.py)
    daphne = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "cpaas.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api/v1/contacts/"

    def get(_):
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_token.key}"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    peak, sampling = [0], threading.Event()

    def sample():
        with faults.admin() as db:
            while not sampling.is_set():
                peak[0] = max(peak[0], len(faults.backends(APP, conn=db)))
                time.sleep(0.02)

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if get(0) == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and daphne.poll() is None, "daphne did not start"
            time.sleep(0.2)
        sampler = threading.Thread(target=sample)
        sampler.start()
        # when 32 clients ask at once, twice over
        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = list(pool.map(get, range(64)))
        sampling.set()
        sampler.join()
    finally:
        sampling.set()
        os.killpg(daphne.pid, signal.SIGTERM)
        daphne.wait(timeout=30)
    # then every request was answered, none with a server error, through at most POOL connections
    assert statuses.count(200) == 64, sorted(set(statuses))
    assert 0 < peak[0] <= POOL, peak[0]
