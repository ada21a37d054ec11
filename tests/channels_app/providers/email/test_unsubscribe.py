"""One-click unsubscribe (RFC 8058): the List-Unsubscribe URL of an email, POSTed by a mail
client with no log-in, records an opt-out of that email's purpose with the request as evidence;
a repeat changes nothing; a GET only shows the confirmation page; a changed token, or one made
for another workspace's message, acts on nobody of ours."""

import pytest
from django.core import signing
from django.urls import reverse

from channels_app import unsubscribe
from channels_app.models import Message
from consent.models import ConsentEvent, ConsentRecord
from consent.services import check
from tests.factories import ContactFactory, WorkspaceFactory

from ...conftest import at, drain
from .conftest import opted_in
from .test_email_send import send

pytestmark = pytest.mark.django_db
S = Message.Status


def link_of(smtp_server) -> str:
    header = smtp_server.accepted[-1]["message"]["List-Unsubscribe"]
    return header.split(",")[0].strip(" <>").removeprefix("http://127.0.0.1:8000")


def opt_outs(contact):
    return list(ConsentEvent.objects.filter(contact=contact, new_status="opted_out"))


def test_the_path_written_out_is_the_url_patterns(workspace, contact):
    message = send(workspace, contact)
    token = unsubscribe.token_for(message)
    assert unsubscribe.PATH.format(token=token) == reverse("email_unsubscribe", args=[token])


def test_one_click_post_records_an_opt_out_with_evidence(client, workspace, contact, smtp, smtp_server):
    send(workspace, contact)
    drain(0)
    link = link_of(smtp_server)
    response = client.post(
        link,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
        headers={"User-Agent": "Gmail one-click"},
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 200 and b"You are unsubscribed" in response.content
    [event] = opt_outs(contact)
    assert (event.channel_kind, event.purpose, event.method) == ("email", "marketing", "web_form")
    assert "one-click (RFC 8058" in event.reason
    assert event.ip_address == "203.0.113.9" and event.user_agent == "Gmail one-click"
    assert event.url.endswith(link) and event.notice_text.startswith("List-Unsubscribe link of email")
    assert (
        ConsentRecord.objects.get(contact=contact, channel_kind="email", purpose="marketing").status
        == "opted_out"
    )
    # the next marketing email is blocked; transactional mail still goes
    assert send(workspace, contact).status == S.BLOCKED
    assert check(contact, "email", "transactional", at(60)).outcome == "allow"
    # idempotent: the client retries, nothing more is written
    assert (
        client.post(
            link, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
        ).status_code
        == 200
    )
    assert len(opt_outs(contact)) == 1


def test_a_get_only_shows_the_confirmation_and_its_button_posts(
    client, workspace, contact, smtp, smtp_server
):
    send(workspace, contact)
    drain(0)
    link = link_of(smtp_server)
    page = client.get(link)
    assert (
        page.status_code == 200
        and b'<form method="post">' in page.content
        and b"Stop marketing emails" in page.content
    )
    assert opt_outs(contact) == []  # a scanner's prefetch unsubscribes nobody
    assert client.post(link).status_code == 200  # the page's button: no body
    [event] = opt_outs(contact)
    assert "unsubscribe page's button" in event.reason


@pytest.mark.parametrize("token", ["nonsense", "abc:def:ghi"])
def test_a_made_up_token_is_404_and_changes_nothing(client, workspace, contact, token):
    response = client.post(
        reverse("email_unsubscribe", args=[token]),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 404 and b"not valid" in response.content
    assert not ConsentEvent.objects.filter(new_status="opted_out").exists()


def test_another_workspaces_token_cannot_act_on_ours(client, workspace, contact, smtp):
    # their workspace sends their contact an email; ours has Ada (opted in) and an email to her
    theirs = WorkspaceFactory()
    their_contact = opted_in(ContactFactory(workspace=theirs, email="ada@example.com"))
    their_message = send(theirs, their_contact)
    ours = send(workspace, contact)
    # their genuine token acts on their contact only
    client.post(reverse("email_unsubscribe", args=[unsubscribe.token_for(their_message)]))
    assert len(opt_outs(their_contact)) == 1 and opt_outs(contact) == []
    # a token claiming our workspace with their message, or naming our message, that we did not
    # sign, is refused
    for data in ({"w": workspace.pk, "m": their_message.pk}, {"w": theirs.pk, "m": ours.pk}):
        forged = signing.dumps(data, salt=unsubscribe.SALT, key="not-our-secret-key", compress=True)
        assert client.post(reverse("email_unsubscribe", args=[forged])).status_code == 404
    # and a correctly signed token whose workspace does not own the message finds nothing
    mixed = signing.dumps({"w": theirs.pk, "m": ours.pk}, salt=unsubscribe.SALT, compress=True)
    assert client.post(reverse("email_unsubscribe", args=[mixed])).status_code == 404
    assert opt_outs(contact) == []
