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


# --- Twilio, played by a local server ---------------------------------------------------------


@pytest.fixture
def fake():
    """A local server playing Twilio's REST API (providers/twilio/fake.py)."""
    from .providers.twilio.fake import FakeTwilio

    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture
def twilio(workspace, fake):
    """Twilio SMS, WhatsApp and voice channels pointed at the fake; the sandbox ones disabled."""
    from channels_app.models import Channel
    from channels_app.services.channels import channel_create
    from cpaas.tenancy import Actor

    from .providers.twilio.fake import ACCOUNT_SID, AUTH_TOKEN

    Channel.objects.filter(workspace=workspace, kind__in=["sms", "whatsapp", "voice"]).update(
        status="disabled"
    )
    return {
        kind: channel_create(
            workspace=workspace,
            actor=Actor.system("test"),
            kind=kind,
            provider="twilio",
            name=f"Twilio {kind}",
            address="+15017122661",
            credentials={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN},
            rate_limit_per_second=100,
            settings={"api_base": fake.url},
        )
        for kind in ("sms", "whatsapp", "voice")
    }


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
