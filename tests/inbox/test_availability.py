"""An agent sets their availability on the inbox page: online, they are given waiting work."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from cpaas.tenancy import Actor
from inbox import services
from inbox.models import AgentStatus, Conversation
from tests.conftest import client_for
from tests.factories import ContactFactory
from tests.inbox.conftest import make_agent, make_queue

pytestmark = pytest.mark.django_db


def test_going_online_on_the_page_takes_the_oldest_waiting_conversation(workspace):
    queue = make_queue(workspace, "support", auto_assign="round_robin", capacity=1)
    agent = make_agent(workspace, "jo", queues=[queue])
    for i in range(2):
        services.conversation_open_or_reopen(
            workspace=workspace, contact=ContactFactory(workspace=workspace, phone=f"+44791100000{i}"),
            actor=Actor.system("test"), queue=queue, now=timezone.now() - dt.timedelta(minutes=10 - i),
        )  # fmt: skip
    client = client_for(agent)
    page = client.get(reverse("inbox")).content.decode()
    assert 'name="availability"' in page and '<option value="offline" selected>' in page
    assert AgentStatus.objects.get(user=agent).availability == "offline"  # opening the page is no promise
    response = client.post(
        reverse("inbox_availability"), {"availability": "online", "next": "/inbox/?queue=1"}
    )
    assert response.status_code == 302 and response["Location"] == "/inbox/?queue=1"
    oldest = Conversation.objects.order_by("opened_at").first()
    assert oldest.assignee == agent
    assert '<option value="online" selected>' in client.get(reverse("inbox")).content.decode()
    # a link elsewhere is not followed
    response = client.post(
        reverse("inbox_availability"), {"availability": "away", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("inbox")


def test_a_page_visit_brings_back_an_agent_made_away_by_idle_time(workspace):
    queue = make_queue(workspace, "support")
    agent = make_agent(
        workspace, "jo", queues=[queue], online=True, now=timezone.now() - dt.timedelta(hours=1)
    )
    services.idle_agents_away()
    assert AgentStatus.objects.get(user=agent).availability == "away"
    client_for(agent).get(reverse("inbox"))
    assert AgentStatus.objects.get(user=agent).availability == "online"
