"""Log-in throttling (django-axes): repeated wrong passwords lock the user name, from this
address and from every other; the page says so; a workspace admin or a command lifts it."""

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cpaas.models import AuditEntry, Membership
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

PASSWORD = "secret-pass-123"  # UserFactory's


def attempt(username, password, ip="203.0.113.5"):
    client = Client(REMOTE_ADDR=ip)
    response = client.post(reverse("login"), {"username": username, "password": password})
    return response, client


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_thirty_wrong_passwords_then_the_right_one_is_refused(marketer):
    for _ in range(30):
        response, _ = attempt(marketer.username, "wrong")
    response, client = attempt(marketer.username, PASSWORD)
    assert response.status_code == 429 and not logged_in(client)
    body = response.content.decode()
    assert "Too many failed log-ins" in body and "A workspace admin can unlock it" in body
    assert 'name="password"' in body  # the log-in form is still there


def test_the_lock_starts_at_the_limit_and_holds_from_another_address(settings, marketer):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response, _ = attempt(marketer.username, "wrong")
        assert response.status_code == 200 and "Please enter a correct username" in response.content.decode()
    response, _ = attempt(marketer.username, "wrong")
    assert response.status_code == 429
    response, client = attempt(marketer.username, PASSWORD, ip="198.51.100.77")  # by user name too
    assert response.status_code == 429 and not logged_in(client)


def test_fewer_failures_than_the_limit_then_the_right_password_logs_in_and_resets(settings, marketer):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(marketer.username, "wrong")
    response, client = attempt(marketer.username, PASSWORD)
    assert response.status_code == 302 and logged_in(client)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):  # the count started again
        attempt(marketer.username, "wrong")
    assert attempt(marketer.username, PASSWORD)[0].status_code == 302


def test_an_unknown_user_name_gets_the_same_lockout(settings, marketer):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        known, _ = attempt(marketer.username, "wrong")
        unknown, _ = attempt("nobody-here", "wrong")
    assert known.status_code == unknown.status_code == 429
    assert _alert(known) == _alert(unknown) and "Too many failed log-ins" in _alert(known)


def _alert(response) -> str:
    return response.content.decode().split('class="form-errors" role="alert">')[1].split("</div>")[0]


def test_the_lock_ends_after_the_cool_off(settings, marketer):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(marketer.username, "wrong")
    assert attempt(marketer.username, PASSWORD)[0].status_code == 429
    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=5)):
        assert attempt(marketer.username, PASSWORD)[0].status_code == 302


def test_an_admin_sees_the_lock_and_lifts_it(settings, admin_client, marketer):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(marketer.username, "wrong")
    page = admin_client.get(reverse("user_list")).content.decode()
    assert page.count("Locked out") == 1 and "Unlock log-in" in page
    membership = Membership.objects.get(user=marketer)
    response = admin_client.post(reverse("membership_unlock", args=[membership.pk]))
    assert response.status_code == 302
    assert "Locked out" not in admin_client.get(reverse("user_list")).content.decode()
    response, client = attempt(marketer.username, PASSWORD)
    assert response.status_code == 302 and logged_in(client)
    assert AuditEntry.objects.filter(
        action="cpaas.membership.unlocked", target_id=str(membership.pk)
    ).exists()


def test_an_admin_of_another_workspace_cannot_unlock(settings, other_admin, marketer):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(marketer.username, "wrong")
    membership = Membership.objects.get(user=marketer)
    assert client_for(other_admin).post(reverse("membership_unlock", args=[membership.pk])).status_code == 404
    assert attempt(marketer.username, PASSWORD)[0].status_code == 429


def test_the_command_lifts_a_lock(settings, marketer):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(marketer.username, "wrong")
    call_command("axes_reset_username", marketer.username)
    assert attempt(marketer.username, PASSWORD)[0].status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_client_address_counts(settings, marketer):
    settings.TRUSTED_PROXY_COUNT = 1
    client = Client(REMOTE_ADDR="10.0.0.2")
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            reverse("login"),
            {"username": marketer.username, "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.9",  # the client may forge the left part
        )
    from axes.models import AccessAttempt

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}
