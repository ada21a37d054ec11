"""Fixtures for the messaging core: the sandbox channels every workspace starts with, a contact
reachable on every kind, and a clock the tests move by hand."""

import datetime as dt

import pytest

from tests.factories import ContactFactory

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def t0():
    return T0


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
def channels(workspace):
    from channels_app.models import Channel

    return {c.kind: c for c in Channel.objects.filter(workspace=workspace)}


@pytest.fixture
def contact(workspace):
    return ContactFactory(
        workspace=workspace,
        first_name="Ada",
        phone="+447911123456",
        email="ada@example.com",
        addresses={"whatsapp": "+447911123456", "messenger": "ada.m"},
    )


def drain(seconds: float = 0) -> int:
    from channels_app.services.dispatch import dispatch_pending

    return dispatch_pending(now=at(seconds))


# --- real dispatcher processes on the test database --------------------------------------------


def dispatcher_env(**extra) -> dict:
    import os

    from django.db import connection

    from tests.conftest import _database_url

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cpaas.settings.test",
        "DATABASE_URL": _database_url(connection.settings_dict),
        "PYTHONUNBUFFERED": "1",
        **{k: str(v) for k, v in extra.items()},
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


def start_dispatcher(log_path, *args, **env):
    """A `manage.py dispatcher` process on the test database (the caller ends it)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "dispatcher", "-v", "2", *args],
        cwd=ROOT,
        env=dispatcher_env(**env),
        stdout=open(log_path, "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
