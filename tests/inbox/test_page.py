"""The inbox page: an agent sees their queues' conversations only, the filters, search and sort
narrow the list, unread markers clear when the conversation is opened, and the list costs a
bounded number of queries."""

import datetime as dt

import pytest
from django.utils import timezone

from inbox.models import Conversation
from tests.conftest import client_for
from tests.factories import ContactFactory, MembershipFactory, UserFactory
from tests.inbox import ui

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(workspace, agent, admin_user):
    other_agent = UserFactory(username="olga-agent")
    MembershipFactory(workspace=workspace, user=other_agent, role="agent")
    return {
        "collections": ui.queue(workspace, "collections", agent),
        "support": ui.queue(workspace, "support", other_agent),
        "other_agent": other_agent,
    }


def numbers(response) -> list[int]:
    html = response.content.decode()
    import re

    return [int(n) for n in re.findall(r'id="conv-(\d+)"', html)]


def test_an_agent_sees_only_their_queues_and_another_queue_answers_404(workspace, agent, team):
    mine = ui.conversation(workspace, team["collections"], text="I can pay on Friday")
    theirs = ui.conversation(workspace, team["support"], text="My router is broken")
    client = client_for(agent)

    page = client.get("/inbox/")
    assert page.status_code == 200
    assert numbers(page) == [mine.number]
    assert client.get(f"/inbox/c/{mine.number}/").status_code == 200
    for url in (
        "/inbox/c/{}/",
        "/inbox/c/{}/changes/?since=2026-01-01T00:00:00%2B00:00",
        "/inbox/c/{}/preview/",
    ):
        assert client.get(url.format(theirs.number)).status_code == 404
    assert client.post(f"/inbox/c/{theirs.number}/presence/", {"state": "viewing"}).status_code == 404
    for url in ("/inbox/c/{}/reply/", "/inbox/c/{}/assign/"):
        assert client.post(url.format(theirs.number), {"text": "x", "to": "me"}).status_code == 404
    their_message = theirs.contact.messages.get()
    assert client.post(f"/inbox/messages/{their_message.pk}/retry/").status_code == 404
    assert not theirs.contact.messages.filter(direction="out").exists()


def test_an_admin_sees_every_queue_and_another_workspace_sees_nothing(
    workspace, admin_user, team, other_admin
):
    a = ui.conversation(workspace, team["collections"], text="one")
    b = ui.conversation(workspace, team["support"], text="two")
    assert sorted(numbers(client_for(admin_user).get("/inbox/"))) == [a.number, b.number]
    other = client_for(other_admin)
    assert numbers(other.get("/inbox/")) == []
    assert other.get(f"/inbox/c/{a.number}/").status_code == 404


def test_the_filters_narrow_the_list(workspace, admin_user, agent, team):
    now = timezone.now()
    q = team["collections"]
    mine = ui.conversation(workspace, q, text="hello", assignee=agent, priority="high")
    unassigned = ui.conversation(workspace, q, text="hi", kind="whatsapp")
    pending = ui.conversation(workspace, q, text="later", status=Conversation.Status.PENDING)
    breached = ui.conversation(
        workspace, team["support"], text="late", first_response_due_at=now - dt.timedelta(minutes=5)
    )
    resolved = ui.conversation(workspace, q, text="done", status=Conversation.Status.RESOLVED)
    client = client_for(agent)
    admin = client_for(admin_user)

    assert numbers(client.get("/inbox/?show=mine")) == [mine.number]
    assert sorted(numbers(client.get("/inbox/?show=unassigned"))) == [unassigned.number, pending.number]
    assert numbers(admin.get(f"/inbox/?queue={team['support'].pk}")) == [breached.number]
    assert numbers(admin.get("/inbox/?status=pending")) == [pending.number]
    assert numbers(admin.get("/inbox/?status=resolved")) == [resolved.number]
    assert resolved.number not in numbers(admin.get("/inbox/"))  # unresolved by default
    assert numbers(admin.get("/inbox/?channel=whatsapp")) == [unassigned.number]
    assert numbers(admin.get("/inbox/?priority=high")) == [mine.number]
    assert numbers(admin.get("/inbox/?sla=breached")) == [breached.number]
    # a stale or hand-written value is ignored, not an error
    assert admin.get("/inbox/?status=nonsense&queue=abc&sort=zzz").status_code == 200


def test_search_finds_message_text_name_phone_email_and_number(workspace, admin_user, team):
    q = team["collections"]
    nia = ContactFactory(
        workspace=workspace, first_name="Nia", last_name="Okafor", phone="+447911123456", email="nia@x.org"
    )
    by_person = ui.conversation(workspace, q, contact=nia, text="hello")
    by_text = ui.conversation(workspace, q, text="my parcel never came")
    client = client_for(admin_user)
    for query in ("Nia", "nia okafor", "07911 123456", "123456", "nia@x.org"):
        assert numbers(client.get("/inbox/", {"q": query})) == [by_person.number], query
    assert numbers(client.get("/inbox/", {"q": "parcel never"})) == [by_text.number]
    assert numbers(client.get("/inbox/", {"q": f"#{by_text.number}"})) == [by_text.number]
    assert numbers(client.get("/inbox/", {"q": "nothing like this"})) == []


def test_sort_by_longest_waiting(workspace, admin_user, team):
    now = timezone.now()
    q = team["collections"]
    recent = ui.conversation(workspace, q, text="a", waiting_since=now - dt.timedelta(minutes=1))
    oldest = ui.conversation(workspace, q, text="b", waiting_since=now - dt.timedelta(hours=3))
    middle = ui.conversation(workspace, q, text="c", waiting_since=now - dt.timedelta(minutes=30))
    answered = ui.conversation(workspace, q, text="d", waiting_since=None)
    assert numbers(client_for(admin_user).get("/inbox/?sort=waiting")) == [
        oldest.number,
        middle.number,
        recent.number,
        answered.number,
    ]


def test_a_conversation_is_unread_until_the_agent_opens_it(workspace, agent, team):
    c = ui.conversation(workspace, team["collections"], text="are you there?")
    client = client_for(agent)
    assert f'id="conv-{c.number}" class="conv-row unread"' in client.get("/inbox/").content.decode()
    client.get(f"/inbox/c/{c.number}/")
    assert f'id="conv-{c.number}" class="conv-row"' in client.get("/inbox/").content.decode()
    # a new message makes it unread again
    later = timezone.now() + dt.timedelta(seconds=5)
    ui.inbound(c, "hello?", at=later)
    Conversation.objects.filter(pk=c.pk).update(last_message_at=later)
    assert f'id="conv-{c.number}" class="conv-row unread"' in client.get("/inbox/").content.decode()


def test_the_list_costs_the_same_queries_for_5_or_40_conversations(
    workspace, admin_user, team, django_assert_max_num_queries
):
    client = client_for(admin_user)
    for _ in range(5):
        ui.conversation(workspace, team["collections"], text="x", assignee=team["other_agent"])
    client.get("/inbox/")  # warm the session and the sandbox channels
    with django_assert_max_num_queries(12) as few:
        client.get("/inbox/")
    for _ in range(35):
        ui.conversation(workspace, team["support"], text="y", assignee=team["other_agent"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(numbers(client.get("/inbox/"))) == 40


def test_the_thread_shows_every_channel_and_changes_gives_what_came_after(workspace, agent, team):
    c = ui.conversation(workspace, team["collections"], text="first on sms")
    ui.inbound(c, "then on whatsapp", kind="whatsapp")
    client = client_for(agent)
    html = client.get(f"/inbox/c/{c.number}/").content.decode()
    assert "first on sms" in html and "then on whatsapp" in html
    cut = timezone.now()
    later = ui.inbound(c, "and a third", at=cut + dt.timedelta(seconds=1))
    changed = client.get(f"/inbox/c/{c.number}/changes/", {"since": cut.isoformat()}).content.decode()
    assert f'id="msg-{later.pk}"' in changed and "first on sms" not in changed
    assert client.get(f"/inbox/c/{c.number}/changes/", {"since": "yesterday"}).status_code == 400


def test_search_reads_what_the_contact_and_agents_wrote_not_automated_sends(workspace, admin_user, team):
    """Message text search covers inbound messages and agents' replies: the journeys' bulk sends
    (most of the table) are left out, so the search stays bounded and their index costs nothing."""
    from channels_app.models import Message

    q = team["collections"]
    replied = ui.conversation(workspace, q, text="hello")
    automated = ui.conversation(workspace, q, text="hi")
    channel = ui.inbound(replied, "thanks").channel
    for c, text, sent_by in (
        (replied, "your voucher code is ready", "person"),
        (automated, "voucher reminder", "automation"),
    ):
        Message.objects.create(
            workspace=workspace, contact=c.contact, channel=channel, kind="sms", direction="out", address=c.contact.phone,
            text=text, content={"text": text}, status="delivered", sent_by=sent_by,
            status_changed_at=timezone.now(), created_at=timezone.now(),
        )  # fmt: skip
    client = client_for(admin_user)
    assert numbers(client.get("/inbox/", {"q": "voucher"})) == [replied.number]


@pytest.mark.parametrize("probe", [1, 2000])
def test_search_by_message_text_finds_the_same_for_a_rare_or_common_word(
    workspace, admin_user, team, monkeypatch, probe
):
    """PostgreSQL looks a rare word up in the trigram index and checks a common one (more
    matches than the probe) per listed conversation: both give the same list."""
    import inbox.selectors

    monkeypatch.setattr(inbox.selectors, "SEARCH_PROBE", probe)
    q = team["collections"]
    both = [ui.conversation(workspace, q, text=f"parcel {n} never came") for n in range(3)]
    ui.conversation(workspace, q, text="all fine")
    client = client_for(admin_user)
    assert sorted(numbers(client.get("/inbox/", {"q": "never came"}))) == sorted(c.number for c in both)
