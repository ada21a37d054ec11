"""The conversations API: the contract an integrator sees, the same permissions as the pages,
and isolation on every URL (another workspace's token, and an agent of another queue: 404)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from inbox.models import Conversation
from tests.inbox.conftest import inbound, make_agent, make_queue

pytestmark = pytest.mark.django_db

# every conversation URL, with a body an allowed caller may send
URLS = [
    ("api_conversation_detail", "get", None),
    ("api_conversation_assign", "post", {"assignee_id": None}),
    ("api_conversation_claim", "post", {}),
    ("api_conversation_transfer", "post", {"note": "x"}),
    ("api_conversation_status", "post", {"status": "pending"}),
    ("api_conversation_resolve", "post", {}),
    ("api_conversation_return", "post", {}),
    ("api_conversation_reply", "post", {"text": "Hello"}),
    ("api_conversation_reply_preview", "post", {}),
    ("api_conversation_notes", "get", None),
    ("api_conversation_notes", "post", {"body": "note"}),
]


def _session(user):
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def conversation(workspace, contact):
    inbound(contact, "Hello, my card was charged twice", now=timezone.now() - dt.timedelta(minutes=3))
    return Conversation.objects.get(contact=contact)


@pytest.mark.parametrize(("name", "method", "data"), URLS)
def test_another_workspace_s_token_gets_404_on_every_url(name, method, data, conversation, other_api):
    url = reverse(name, kwargs={"number": conversation.number})
    response = (
        getattr(other_api, method)(url, data, format="json") if data is not None else other_api.get(url)
    )
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("name", "method", "data"), URLS)
def test_an_agent_of_another_queue_gets_404_on_every_url(name, method, data, workspace, conversation):
    billing = make_queue(workspace, "billing")
    outsider = make_agent(workspace, "outsider", queues=[billing])
    url = reverse(name, kwargs={"number": conversation.number})
    client = _session(outsider)
    response = getattr(client, method)(url, data, format="json") if data is not None else client.get(url)
    assert response.status_code == 404, response.content
    conversation.refresh_from_db()
    assert conversation.status == "open" and not conversation.entries.filter(kind="note").exists()


def test_the_list_shows_an_agent_only_their_queues(workspace, contact, api):
    inbound(contact, "Hello")
    support = Conversation.objects.get(contact=contact).queue
    billing = make_queue(workspace, "billing")
    from tests.factories import ContactFactory

    other = ContactFactory(workspace=workspace, phone="+447911123999")
    inbound(other, "Invoice?")
    Conversation.objects.filter(contact=other).update(queue=billing)
    agent = make_agent(workspace, "jo", queues=[support])
    numbers = [c["number"] for c in _session(agent).get("/api/v1/conversations/").json()["results"]]
    assert numbers == [1]
    numbers = sorted(c["number"] for c in api.get("/api/v1/conversations/").json()["results"])
    assert numbers == [1, 2]  # a token sees the workspace


def test_list_filters_and_errors(workspace, contact, api):
    inbound(contact, "Hello")
    response = api.get("/api/v1/conversations/", {"status": "resolved"})
    assert response.json()["count"] == 0
    response = api.get("/api/v1/conversations/", {"q": "hello"})
    assert [c["contact"]["display_name"] for c in response.json()["results"]] == ["Ada Lovelace"]
    assert api.get("/api/v1/conversations/", {"q": "#1"}).json()["count"] == 1
    assert api.get("/api/v1/conversations/", {"q": "nothing like it"}).json()["count"] == 0
    response = api.get("/api/v1/conversations/", {"channel": "fax"})
    assert response.status_code == 400 and "channel" in response.json()["error"]["fields"]
    response = api.get("/api/v1/conversations/", {"colour": "red"})
    assert response.status_code == 400 and "colour" in response.json()["error"]["fields"]
    response = api.get("/api/v1/conversations/", {"mine": "true"})
    assert response.status_code == 400 and "mine" in response.json()["error"]["fields"]


def test_read_with_timeline_then_reply_note_assign_resolve(workspace, conversation, admin_user, api):
    base = f"/api/v1/conversations/{conversation.number}/"
    detail = api.get(base).json()
    assert detail["conversation"]["status"] == "open" and detail["conversation"]["queue"] == "support"
    kinds = [item["kind"] for item in detail["timeline"]]
    assert kinds == ["opened", "message"] or kinds == ["message", "opened"]
    message = next(i for i in detail["timeline"] if i["kind"] == "message")["message"]
    assert message["text"] == "Hello, my card was charged twice" and message["direction"] == "in"
    # reply
    response = api.post(base + "reply/", {"text": "Sorry about that, refunding now"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["origin"] == "agent" and response.json()["status"] in (
        "queued",
        "deferred",
        "blocked",
    )
    # a note with a mention
    agent = make_agent(workspace, "jo", queues=[conversation.queue])
    response = api.post(base + "notes/", {"body": "@jo please follow up"}, format="json")
    assert response.status_code == 201 and response.json()["mentions"] == [agent.pk]
    # assign, then resolve with a disposition
    response = api.post(base + "assign/", {"assignee_id": agent.pk, "note": "yours"}, format="json")
    assert response.status_code == 200 and response.json()["assignee"]["username"] == "jo"
    response = api.post(base + "resolve/", {"disposition": "paid"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "resolved"
    timeline = api.get(base).json()["timeline"]
    kinds = [i["kind"] for i in timeline]
    for kind in ("note", "assigned", "status_changed"):
        assert kind in kinds
    reply = next(i for i in timeline if i["kind"] == "message" and i["message"]["direction"] == "out")
    assert reply["message"]["text"] == "Sorry about that, refunding now"


def test_bad_input_says_what_and_where(workspace, conversation, api):
    base = f"/api/v1/conversations/{conversation.number}/"
    response = api.post(base + "assign/", {"assignee_id": 999999}, format="json")
    assert response.status_code == 400 and "assignee_id" in response.json()["error"]["fields"]
    response = api.post(base + "resolve/", {"disposition": "maybe"}, format="json")
    assert response.status_code == 400 and "disposition" in response.json()["error"]["fields"]
    response = api.post(base + "reply/", {}, format="json")
    assert response.status_code == 400 and "text" in response.json()["error"]["fields"]
    response = api.post(base + "status/", {"status": "snoozed"}, format="json")
    assert response.status_code == 400 and "snoozed_until" in response.json()["error"]["fields"]
    response = api.post(base + "claim/", {}, format="json")
    assert response.status_code == 400  # a token is no person
    conversation.refresh_from_db()
    assert conversation.status == "open" and conversation.assignee is None


def test_reply_preview_says_why_before_sending(workspace, conversation, api):
    from consent.services import consent_change
    from cpaas.tenancy import Actor

    consent_change(contact=conversation.contact, channel_kind="sms", purpose="transactional", status="opted_out",
                   actor=Actor.system("test"), method="keyword", reason="STOP", at=timezone.now())  # fmt: skip
    before = conversation.contact.messages.count()
    response = api.post(f"/api/v1/conversations/{conversation.number}/reply/preview/", {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["channel_kind"] == "sms" and body["outcome"] == "deny" and body["reason"]
    assert conversation.contact.messages.count() == before  # nothing sent


def test_the_same_idempotency_key_sends_one_reply(workspace, conversation, api):
    url = f"/api/v1/conversations/{conversation.number}/reply/"
    first = api.post(url, {"text": "Hi"}, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    again = api.post(url, {"text": "Hi"}, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert conversation.replies.count() == 1


def test_the_schema_documents_every_conversation_operation(client):
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    paths = schema["paths"]
    for path, methods in {
        "/api/v1/conversations/": {"get"},
        "/api/v1/conversations/{number}/": {"get"},
        "/api/v1/conversations/{number}/assign/": {"post"},
        "/api/v1/conversations/{number}/resolve/": {"post"},
        "/api/v1/conversations/{number}/reply/": {"post"},
        "/api/v1/conversations/{number}/reply/preview/": {"post"},
        "/api/v1/conversations/{number}/notes/": {"get", "post"},
    }.items():
        assert methods <= set(paths[path]), path
