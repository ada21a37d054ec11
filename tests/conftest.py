"""Shared fixtures: workspaces with users of each role, API clients, and a real ASGI server
plus worker in subprocesses for browser and realtime tests."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client

# Sync Playwright inside pytest-django's live database needs this (STACK.md); tests only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's loop otherwise breaks later asyncio tests (STACK.md)."""
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing; CI must run the browser tests")
        pytest.skip(f"SKIPPED: {CHROMIUM} is missing (apt-get install chromium)")
    return {
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args():
    return {"viewport": {"width": 1280, "height": 800}}


@pytest.fixture(autouse=True, scope="session")
def _fresh_redis():
    """In Redis mode the cache, task queue and channel layer outlive a run, and a new test
    database reuses ids: a previous run's rate-limit counters would count against this run's
    token number 1. Start every run from an empty Redis database."""
    from django.conf import settings

    if settings.REDIS_URL:
        from django.core.cache import cache

        cache.clear()


@pytest.fixture(autouse=True)
def _consent_evidence_cleared_before_flush(request):
    """Transactional tests end with a flush (DELETE FROM every table on SQLite), which the
    append-only triggers on consent events rightly refuse. Remove the evidence first through
    the one sanctioned path, the erasure gate, so the reset works and the triggers stay on."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or any(
        name in request.fixturenames for name in ("transactional_db", "live_server")
    )
    if not transactional:
        yield
        return
    # Set up the database fixture first, so this teardown runs before its flush.
    request.getfixturevalue("_django_db_helper")
    yield
    from django.db import transaction

    from consent.models import ConsentEvent, ErasureGate

    with transaction.atomic():
        contact_ids = list(ConsentEvent.objects.values_list("contact_id", flat=True).distinct())
        if contact_ids:
            ErasureGate.objects.bulk_create([ErasureGate(contact_id=c) for c in contact_ids])
            for contact_id in contact_ids:
                ConsentEvent.objects.all()._erase_contact_events(contact_id)
            ErasureGate.objects.all().delete()


# --- data -----------------------------------------------------------------------------------

from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory  # noqa: E402


@pytest.fixture
def workspace(db):
    return WorkspaceFactory(name="Workspace A", slug="ws-a")


@pytest.fixture
def other_workspace(db):
    return WorkspaceFactory(name="Workspace B", slug="ws-b")


def _member(workspace, role, username):
    user = UserFactory(username=username)
    MembershipFactory(workspace=workspace, user=user, role=role)
    return user


@pytest.fixture
def admin_user(workspace):
    return _member(workspace, "admin", "alice-admin")


@pytest.fixture
def marketer(workspace):
    return _member(workspace, "marketer", "mark-marketer")


@pytest.fixture
def agent(workspace):
    return _member(workspace, "agent", "gina-agent")


@pytest.fixture
def viewer(workspace):
    return _member(workspace, "viewer", "vic-viewer")


@pytest.fixture
def other_admin(other_workspace):
    return _member(other_workspace, "admin", "bob-other-admin")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(admin_user):
    return client_for(admin_user)


@pytest.fixture
def marketer_client(marketer):
    return client_for(marketer)


@pytest.fixture
def other_client(other_admin):
    return client_for(other_admin)


@pytest.fixture
def api_token(workspace, admin_user):
    from cpaas.services import api_token_create
    from cpaas.tenancy import Actor

    token, key = api_token_create(workspace=workspace, actor=Actor.for_user(admin_user), name="Test")
    token.key = key
    return token


@pytest.fixture
def other_api_token(other_workspace, other_admin):
    from cpaas.services import api_token_create
    from cpaas.tenancy import Actor

    token, key = api_token_create(workspace=other_workspace, actor=Actor.for_user(other_admin), name="Other")
    token.key = key
    return token


@pytest.fixture
def api(api_token):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token.key}")
    return client


@pytest.fixture
def other_api(other_api_token):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {other_api_token.key}")
    return client


# --- a real server: daphne (ASGI) and a django-q2 worker in subprocesses ----------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url(settings_dict) -> str:
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    return "postgres://{USER}:{PASSWORD}@{HOST}:{PORT}/{NAME}".format(
        **{**settings_dict, "PORT": settings_dict["PORT"] or 5432}
    )


class Server:
    def __init__(self, url, processes):
        self.url = url
        self.processes = processes

    def assert_alive(self):
        for name, proc in self.processes.items():
            assert proc.poll() is None, f"{name} exited with {proc.returncode}"


@pytest.fixture(scope="session")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    """The app as `make run` serves it, on the test database: daphne (HTTP + websockets) and a
    django-q2 worker, as separate processes. Tests that use it need committed data
    (`transactional_db`)."""
    from django.db import connection

    logs = tmp_path_factory.mktemp("server-logs")
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cpaas.settings.test",
        "DATABASE_URL": _database_url(connection.settings_dict),
        "Q_SYNC": "0",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    commands = {
        "daphne": [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "cpaas.asgi:application",
        ],
        "worker": [sys.executable, str(ROOT / "manage.py"), "qcluster"],
        "dispatcher": [sys.executable, str(ROOT / "manage.py"), "dispatcher"],
        "engine": [sys.executable, str(ROOT / "manage.py"), "engine"],
    }
    processes = {
        name: subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=open(logs / f"{name}.log", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name, cmd in commands.items()
    }
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or processes["daphne"].poll() is not None:
                for proc in processes.values():
                    proc.kill()
                pytest.fail(f"daphne did not start:\n{(logs / 'daphne.log').read_text()[-3000:]}")
            time.sleep(0.1)
    yield Server(f"http://127.0.0.1:{port}", processes)
    for proc in processes.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in processes.values():
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    if os.environ.get("SHOW_SERVER_LOGS"):
        for name in processes:
            print(f"---- {name} log ----\n" + (logs / f"{name}.log").read_text()[-5000:])


@pytest.fixture
def login(server, context):
    """login(user) -> a Playwright page already logged in as `user` on the test server."""

    def _login(user, path="/"):
        client = Client()
        client.force_login(user)
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server.url}]
        )
        page = context.new_page()
        page.goto(server.url + path)
        return page

    return _login


def chromium_available() -> bool:
    return os.path.exists(CHROMIUM) or shutil.which("chromium") is not None


@pytest.fixture(autouse=True)
def _fresh_graph_cache():
    """Published graphs are cached per process by version id; test databases reuse ids, so any
    test (not only the journeys ones: isolation, GDPR) may otherwise meet another test's graph."""
    from journeys.engine import counters, graph

    graph._cache.clear()
    counters._workspace_of.clear()
    yield
    graph._cache.clear()
    counters._workspace_of.clear()
