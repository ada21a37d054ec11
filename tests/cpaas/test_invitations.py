"""Invitations replace adding users by user name: an admin invites an email address with a role,
the answer never says whether an account exists, and only the person with the link joins (a
logged-in user accepts; a new person chooses a user name and password). Links work once, expire,
and can be revoked."""

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cpaas.models import AuditEntry, Invitation, Membership
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def invite(admin_client, django_capture_on_commit_callbacks, mailoutbox):
    """invite(email, role) -> (response, the link from the email)."""

    def _invite(email, role="agent"):
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post(reverse("invitation_create"), {"email": email, "role": role})
        link = None
        if response.status_code == 200:
            link = re.search(r"http://testserver(/invitations/\S+/)", mailoutbox[-1].body).group(1)
        return response, link

    return _invite


def _notice(response) -> str:
    return response.content.decode().split('class="card notice"')[1].split("</div>")[0]


def test_inviting_does_not_attach_anyone_and_reveals_nothing_about_accounts(invite, other_admin, workspace):
    other_admin.email = "bob@other.example"
    other_admin.save()
    existing, _ = invite("bob@other.example")
    unknown, _ = invite("nobody@nowhere.example")
    # then nobody joined, and both answers are the same apart from the address and the link
    assert not Membership.objects.filter(workspace=workspace, user=other_admin).exists()
    assert existing.status_code == unknown.status_code == 200
    strip = lambda r, email: re.sub(r"/invitations/\S+/", "LINK", _notice(r).replace(email, "E"))  # noqa: E731
    assert strip(existing, "bob@other.example") == strip(unknown, "nobody@nowhere.example")
    assert other_admin.username not in existing.content.decode()


def test_the_old_attach_by_user_name_is_gone(admin_client, other_admin, workspace):
    response = admin_client.post(
        reverse("invitation_create"), {"username": other_admin.username, "role": "admin"}
    )
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    assert not Membership.objects.filter(workspace=workspace, user=other_admin).exists()
    assert other_admin.email not in response.content.decode()


def test_the_email_carries_a_single_use_link_and_the_token_is_stored_hashed(invite, mailoutbox, workspace):
    response, link = invite("new@example.com", role="viewer")
    assert mailoutbox[-1].to == ["new@example.com"] and workspace.name in mailoutbox[-1].subject
    token = link.rstrip("/").rsplit("/", 1)[1]
    invitation = Invitation.objects.get()
    assert invitation.token_hash == Invitation.hash_token(token) and token not in invitation.token_hash
    assert link in response.content.decode()  # shown once to the admin too
    assert link not in Client().get(reverse("user_list")).content.decode()


def test_a_new_person_chooses_a_user_name_and_password_and_joins(invite, workspace):
    _, link = invite("New.Person@Example.com", role="viewer")
    visitor = Client()
    page = visitor.get(link).content.decode()
    assert "Join Workspace A" in page and "Choose a user name" in page and "Viewer" in page
    response = visitor.post(link, {"username": "newperson", "password1": "a-long-pass-phrase-9",
                                   "password2": "a-long-pass-phrase-9"})  # fmt: skip
    assert response.status_code == 302
    user = User.objects.get(username="newperson")
    assert user.email == "New.Person@example.com" and user.check_password("a-long-pass-phrase-9")
    assert Membership.objects.get(user=user).role == "viewer"
    assert visitor.get(reverse("user_list")).status_code == 403  # logged in, as a viewer of A
    assert "Contacts" in visitor.get(reverse("contact_list")).content.decode()
    # the link worked once
    again = Client().get(link)
    assert again.status_code == 404 and "not valid" in again.content.decode()
    assert AuditEntry.objects.filter(action="cpaas.invitation.accepted").count() == 1


def test_new_account_errors_are_shown_next_to_the_fields_and_nothing_is_created(invite, marketer):
    _, link = invite("x@example.com")
    taken = Client().post(link, {"username": marketer.username.upper(), "password1": "a-long-pass-phrase-9",
                                 "password2": "a-long-pass-phrase-9"})  # fmt: skip
    assert taken.status_code == 400 and "This user name is taken" in taken.content.decode()
    weak = Client().post(link, {"username": "fresh", "password1": "123", "password2": "123"})
    assert weak.status_code == 400 and "too short" in weak.content.decode()
    differ = Client().post(link, {"username": "fresh", "password1": "a-long-pass-phrase-9", "password2": "x"})
    assert "The two passwords differ" in differ.content.decode()
    assert not User.objects.filter(username="fresh").exists()
    assert Invitation.objects.get().accepted_at is None


def test_an_existing_user_accepts_while_logged_in(invite, other_admin, workspace):
    _, link = invite("whoever@example.com", role="marketer")
    anonymous = Client().get(link).content.decode()
    assert f"{reverse('login')}?next=" in anonymous  # log in first, then accept
    client = client_for(other_admin)
    page = client.get(link).content.decode()
    assert f"You are logged in as <b>{other_admin.username}</b>" in page
    assert not Membership.objects.filter(
        workspace=workspace, user=other_admin
    ).exists()  # not before accepting
    assert client.post(link).status_code == 302
    assert Membership.objects.get(workspace=workspace, user=other_admin).role == "marketer"
    assert client.get(reverse("contact_list")).status_code == 200  # switched to workspace A
    assert client.post(link).status_code == 404


def test_a_member_accepting_again_is_told_and_a_deactivated_one_comes_back(invite, marketer, workspace):
    _, link = invite("m@example.com", role="viewer")
    response = client_for(marketer).post(link)
    assert response.status_code == 400 and "already a member of Workspace A" in response.content.decode()
    assert Invitation.objects.get().accepted_at is None
    Membership.objects.filter(user=marketer).update(is_active=False)
    assert client_for(marketer).post(link).status_code == 302
    assert Membership.objects.filter(user=marketer, is_active=True, role="viewer").count() == 1


def test_an_expired_link_does_not_work(invite, settings):
    _, link = invite("late@example.com")
    later = timezone.now() + dt.timedelta(days=settings.INVITATION_VALID_DAYS, seconds=1)
    with time_machine.travel(later):
        response = Client().get(link)
        assert response.status_code == 404 and "not valid" in response.content.decode()
        post = Client().post(link, {"username": "late", "password1": "a-long-pass-phrase-9",
                                    "password2": "a-long-pass-phrase-9"})  # fmt: skip
        assert post.status_code == 404 and not User.objects.filter(username="late").exists()


def test_the_admin_revokes_a_pending_invitation(invite, admin_client):
    _, link = invite("gone@example.com")
    page = admin_client.get(reverse("user_list")).content.decode()
    assert "gone@example.com" in page and "Pending invitations" in page
    invitation = Invitation.objects.get()
    assert admin_client.post(reverse("invitation_revoke", args=[invitation.pk])).status_code == 302
    assert Client().get(link).status_code == 404
    admin_client.get(reverse("user_list"))  # the toast is shown once
    assert "gone@example.com" not in admin_client.get(reverse("user_list")).content.decode()
    assert AuditEntry.objects.filter(action="cpaas.invitation.revoked").exists()


def test_inviting_the_same_address_again_replaces_the_old_link(invite):
    _, first = invite("twice@example.com")
    _, second = invite("twice@example.com", role="viewer")
    assert Client().get(first).status_code == 404 and Client().get(second).status_code == 200
    assert Invitation.objects.filter(revoked_at=None).count() == 1


def test_a_guessed_token_opens_nothing():
    response = Client().get(reverse("invitation_accept", args=["x" * 43]))
    assert response.status_code == 404 and "not valid" in response.content.decode()


def test_a_bad_email_is_a_field_error(admin_client):
    response = admin_client.post(reverse("invitation_create"), {"email": "not-an-email", "role": "agent"})
    assert response.status_code == 400 and "Enter a valid email address" in response.content.decode()
    assert not Invitation.objects.exists()


def test_log_in_from_the_invitation_comes_back_to_accept_it(invite, other_admin, workspace):
    _, link = invite("someone@example.com", role="agent")
    visitor = Client()
    page = visitor.get(link).content.decode()
    login_url = re.search(r'href="(/login/\?next=[^"]+)"', page).group(1)
    response = visitor.post(login_url, {"username": other_admin.username, "password": "secret-pass-123"})
    assert response.status_code == 302 and response["Location"] == link
    assert visitor.post(link).status_code == 302
    assert Membership.objects.get(workspace=workspace, user=other_admin).role == "agent"
