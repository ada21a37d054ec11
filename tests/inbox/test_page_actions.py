"""The thread's actions on the inbox page (inbox/action_views.py): a private note with @mentions,
transfer to an agent or queue with a note, status (snoozed until a time) and priority, and
return to the journey. Each through its service; a refusal comes back as the form with the words
next to the field; permissions; another queue's or workspace's conversation answers 404."""

import datetime as dt
import re
import zoneinfo

import pytest
from django.utils import timezone

from inbox.models import Conversation, Entry
from journeys.models import Enrollment
from tests.conftest import client_for
from tests.factories import ContactFactory
from tests.inbox import ui
from tests.inbox.conftest import make_agent
from tests.inbox.test_conversations import _handoff_journey

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def team(workspace, agent):
    olga = make_agent(workspace, "olga")
    collections = ui.queue(workspace, "collections", agent, olga)
    support = ui.queue(workspace, "support", olga)
    return {"collections": collections, "support": support, "olga": olga}


def page(client, c) -> str:
    return client.get(f"/inbox/c/{c.number}/").content.decode()


def test_a_note_mentions_an_agent_who_sees_it_marked_and_in_their_filter(workspace, agent, team):
    c = ui.conversation(workspace, team["collections"], text="I lost my job")
    other = ui.conversation(workspace, team["collections"], text="hello")
    response = client_for(agent).post(
        f"/inbox/c/{c.number}/note/", {"body": "@olga can you take this? hardship"}, **HTMX
    )
    assert response.status_code == 200
    assert (
        "Private note" in response.content.decode()
        and "@olga can you take this?" in response.content.decode()
    )
    note = Entry.objects.get(conversation=c, kind="note")
    assert list(note.mentions.all()) == [team["olga"]]
    # olga's list marks it "@ you" until she opens it; the agent's does not
    olga = client_for(team["olga"])
    row = re.compile(rf'<li id="conv-{c.number}".*?</li>', re.S)
    assert "@ you" in row.search(olga.get("/inbox/").content.decode()).group()
    assert "@ you" not in client_for(agent).get("/inbox/").content.decode()
    # she sees the note marked for her, and "Mentioning me" lists only that conversation
    assert "Mentions you" in page(olga, c)
    assert "Mentions you" not in page(client_for(agent), c)
    listed = olga.get("/inbox/?show=mentions").content.decode()
    assert re.findall(r'id="conv-(\d+)"', listed) == [str(c.number)]
    assert f'id="conv-{other.number}"' not in listed
    assert "@ you" not in listed  # opened: read


def test_an_empty_note_is_refused_next_to_its_field(workspace, agent, team):
    c = ui.conversation(workspace, team["collections"], text="hi")
    response = client_for(agent).post(f"/inbox/c/{c.number}/note/", {"body": "  "}, **HTMX)
    assert response["HX-Retarget"] == "#note-form"
    html = response.content.decode()
    assert 'id="note-body-error"' in html and "Write the note." in html
    assert not Entry.objects.filter(conversation=c, kind="note").exists()
    assert client_for(agent).post(f"/inbox/c/{c.number}/note/", {"body": ""}).status_code == 400


def test_transfer_to_another_agent_and_queue_with_a_note(workspace, agent, team):
    c = ui.conversation(workspace, team["collections"], text="hi", assignee=agent)
    response = client_for(agent).post(
        f"/inbox/c/{c.number}/transfer/",
        {"to": team["olga"].pk, "queue": team["support"].pk, "note": "She prefers email"},
        **HTMX,
    )
    assert response.status_code == 204 and "transferred to olga" in response["HX-Trigger"]
    c.refresh_from_db()
    assert c.assignee == team["olga"] and c.queue == team["support"]
    entry = Entry.objects.get(conversation=c, kind="transferred")
    assert entry.body == "She prefers email"
    # olga's page shows it with the note; the agent no longer sees it (not in support)
    assert "She prefers email" in page(client_for(team["olga"]), c)
    assert client_for(agent).get(f"/inbox/c/{c.number}/").status_code == 404


def test_transfer_refusals_are_next_to_their_fields(workspace, agent, team, other_admin):
    c = ui.conversation(workspace, team["collections"], text="hi")
    client = client_for(agent)
    bad_agent = client.post(f"/inbox/c/{c.number}/transfer/", {"to": other_admin.pk}, **HTMX)
    assert 'id="transfer-to-error"' in bad_agent.content.decode()
    assert "Choose an agent of this workspace." in bad_agent.content.decode()
    bad_queue = client.post(f"/inbox/c/{c.number}/transfer/", {"queue": "999999", "to": agent.pk}, **HTMX)
    assert 'id="transfer-queue-error"' in bad_queue.content.decode()
    nothing = client.post(f"/inbox/c/{c.number}/transfer/", {"queue": team["collections"].pk}, **HTMX)
    assert "Give a queue or an agent to transfer to." in nothing.content.decode()
    c.refresh_from_db()
    assert c.assignee is None and not c.entries.filter(kind="transferred").exists()


def test_status_snoozed_until_a_time_in_the_workspace_zone_and_priority(workspace, agent, team):
    workspace.timezone = "Europe/London"
    workspace.save(update_fields=["timezone"])
    c = ui.conversation(workspace, team["collections"], text="hi")
    client = client_for(agent)
    # the form's datetime-local has no zone: it is the workspace's wall time
    wall = (timezone.now() + dt.timedelta(days=3)).replace(tzinfo=None, second=0, microsecond=0)
    response = client.post(
        f"/inbox/c/{c.number}/status/",
        {"status": "snoozed", "snoozed_until": wall.strftime("%Y-%m-%dT%H:%M")},
        **HTMX,
    )
    assert response.status_code == 204
    c.refresh_from_db()
    assert c.status == "snoozed"
    assert c.snoozed_until == wall.replace(tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    assert client.post(f"/inbox/c/{c.number}/status/", {"status": "pending"}, **HTMX).status_code == 204
    c.refresh_from_db()
    assert c.status == "pending" and c.snoozed_until is None
    assert client.post(f"/inbox/c/{c.number}/priority/", {"priority": "urgent"}, **HTMX).status_code == 204
    c.refresh_from_db()
    assert c.priority == "urgent"
    assert "Urgent priority" in page(client, c)


@pytest.mark.parametrize(
    "url,data,field,words",
    [
        ("status", {"status": "snoozed", "snoozed_until": ""}, "status-until", "A time in the future"),
        (
            "status",
            {"status": "snoozed", "snoozed_until": "2020-01-01T09:00"},
            "status-until",
            "in the future",
        ),
        ("status", {"status": "snoozed", "snoozed_until": "next tuesday"}, "status-until", "A date and time"),
        ("status", {"status": "resolved"}, "status-status", "One of open, pending, snoozed"),
        ("priority", {"priority": "whenever"}, "priority-priority", "One of: low"),
    ],
)
def test_bad_status_or_priority_is_refused_next_to_the_field(workspace, agent, team, url, data, field, words):
    c = ui.conversation(workspace, team["collections"], text="hi")
    response = client_for(agent).post(f"/inbox/c/{c.number}/{url}/", data, **HTMX)
    html = response.content.decode()
    assert f'id="{field}-error"' in html and words in html
    c.refresh_from_db()
    assert c.status == "open" and c.priority == "normal"


def test_roles_without_inbox_reply_or_assign_cannot_act(workspace, viewer, team):
    c = ui.conversation(workspace, team["collections"], text="hi")
    marketer = make_agent(workspace, "mark", role="marketer", queues=[team["collections"]])
    for user in (viewer, marketer):
        client = client_for(user)
        for url in ("note", "status", "priority", "return", "transfer"):
            assert (
                client.post(f"/inbox/c/{c.number}/{url}/", {"body": "x", "status": "pending"}).status_code
                == 403
            )
    assert not c.entries.exists()


def test_another_queue_or_workspace_answers_404_and_changes_nothing(workspace, agent, team, other_admin):
    theirs = ui.conversation(workspace, team["support"], text="not yours")
    for client in (client_for(agent), client_for(other_admin)):
        for url, data in (
            ("note", {"body": "x"}),
            ("transfer", {"to": agent.pk}),
            ("status", {"status": "pending"}),
            ("priority", {"priority": "urgent"}),
            ("return", {}),
        ):
            assert client.post(f"/inbox/c/{theirs.number}/{url}/", data, **HTMX).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "open" and theirs.priority == "normal" and theirs.assignee is None
    assert not theirs.entries.exists()


def test_return_to_the_journey_resumes_the_hand_off(workspace, agent, publish, fire, engine):
    contact = ContactFactory(workspace=workspace, first_name="Ada", phone="+447911123456")
    _handoff_journey(publish)
    now = timezone.now()
    fire(contact, "payment_failed", now=now)
    engine(now)
    c = Conversation.objects.get(contact=contact)
    # the hand-off made "collections"; the agent joins it
    c.queue.memberships.create(user=agent)
    client = client_for(agent)
    assert "Return to journey…" in page(client, c)
    response = client.post(f"/inbox/c/{c.number}/return/", {"note": "Sorted"}, **HTMX)
    assert response.status_code == 204
    engine(timezone.now())
    assert Enrollment.objects.get(contact=contact).status == "completed"
    c.refresh_from_db()
    assert c.status == "resolved" and c.entries.get(kind="returned_to_journey").body == "Sorted"
    # nothing waits any more: the button is gone and a second return says why, at the form
    assert "Return to journey…" not in page(client, c)
    again = client.post(f"/inbox/c/{c.number}/return/", {}, **HTMX).content.decode()
    assert "No journey is waiting" in again and "form-errors" in again
