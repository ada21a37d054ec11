"""The supervisor page (issue 13 item 10): the figures are right, each chart has its table, the
page costs the same queries for 3 or 60 conversations, another workspace's numbers never show,
and only supervisors reach it."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inbox.models import Reply
from inbox.supervisor import supervisor_figures
from tests.conftest import _member, client_for
from tests.factories import ContactFactory
from tests.inbox.panel_helpers import conversation, queue

pytestmark = pytest.mark.django_db
MIN = dt.timedelta(minutes=1)


def table(html: str, chart_id: str) -> dict[str, list[str]]:
    """The chart's table alternative as {row label: [cells]}."""
    body = re.search(rf'<table class="table" id="{chart_id}-table">(.*?)</table>', html, re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr><th scope=\"row\">(.*?)</th>(.*?)</tr>", body, re.S):
        rows[row[0]] = re.findall(r"<td>(.*?)</td>", row[1])
    return rows


@pytest.fixture
def setup(workspace, agent):
    now = timezone.now()
    ann = _member(workspace, "agent", "ann-agent")
    coll = queue(workspace, "collections", members=[agent, ann], first_response_s=600, resolution_s=3600)
    supp = queue(workspace, "support", label="Support desk")

    def conv(q, **fields):
        return conversation(workspace, ContactFactory(workspace=workspace), q, **fields)

    # open now: two unassigned waiting 3 and 30 minutes (the second past its 10-min first response SLA)
    conv(coll, opened_at=now - 3 * MIN, waiting_since=now - 3 * MIN, first_response_due_at=now + 7 * MIN)
    conv(coll, opened_at=now - 30 * MIN, waiting_since=now - 30 * MIN, first_response_due_at=now - 20 * MIN)
    # open, assigned to Gina, answered in 2 minutes, waiting again for 2 hours
    c = conv(coll, assignee=agent, opened_at=now - 3 * 60 * MIN, first_response_at=now - 178 * MIN,
             waiting_since=now - 120 * MIN)  # fmt: skip
    Reply.objects.create(
        workspace=workspace, conversation=c, message=_message(c), author=agent, created_at=now - 178 * MIN
    )
    # resolved by Ann: answered in 20 minutes (late: due in 10), resolved after 2 hours (late: due in 1)
    conv(coll, assignee=ann, status="resolved", opened_at=now - 5 * 60 * MIN, first_response_at=now - 280 * MIN,
         first_response_due_at=now - 290 * MIN, resolved_at=now - 180 * MIN, resolution_due_at=now - 240 * MIN,
         disposition="paid")  # fmt: skip
    # resolved long ago (outside the 7 days): counted nowhere but open totals... it is not open
    conv(supp, status="resolved", assignee=ann, opened_at=now - dt.timedelta(days=20),
         first_response_at=now - dt.timedelta(days=20), resolved_at=now - dt.timedelta(days=19))  # fmt: skip
    conv(supp, opened_at=now - 2 * MIN)  # open, not waiting (e.g. pending on the customer)
    return {"now": now, "agent": agent, "ann": ann}


def _message(conversation):
    from channels_app.services.messages import message_send

    return message_send(workspace=conversation.workspace, contact=conversation.contact, channel="sms",
                        content={"text": "Hello"}, sent_by="person")  # fmt: skip


def test_the_figures_and_their_tables(workspace, admin_user, setup):
    html = client_for(admin_user).get(reverse("inbox_supervisor")).content.decode()
    assert table(html, "chart-open") == {"collections": ["2", "1"], "Support desk": ["1", "0"]}
    assert table(html, "chart-waiting") == {
        "≤ 5 min": ["1"], "5–15 min": ["0"], "15–60 min": ["1"], "1–4 h": ["1"], "4–24 h": ["0"], "&gt; 24 h": ["0"]
    }  # fmt: skip
    assert table(html, "chart-frt")["≤ 5 min"] == ["1"] and table(html, "chart-frt")["15–60 min"] == ["1"]
    assert table(html, "chart-resolution")["1–4 h"] == ["1"]
    assert sum(int(v[0]) for v in table(html, "chart-resolution").values()) == 1  # the old one is outside
    agents = table(html, "chart-agents")
    assert agents["ann-agent"] == ["1", "0", "0"] and agents["gina-agent"] == ["0", "1", "1"]
    # answered late, resolved late, open past first response, open past resolution
    assert table(html, "chart-sla")["collections"] == ["1", "1", "1", "0"]
    assert re.search(r"<dt>Open conversations</dt><dd><b>4</b>", html)
    assert "longest 2 h 0 min" in html or "longest 1 h 59 min" in html
    # every chart is drawn by the one chart include, with its configuration beside it
    assert html.count('<canvas data-chart="chart-') == 6
    assert html.count('<script id="chart-open" type="application/json">') == 1
    # a 30-day period reaches the old resolution
    html = client_for(admin_user).get(reverse("inbox_supervisor") + "?days=30").content.decode()
    assert sum(int(v[0]) for v in table(html, "chart-resolution").values()) == 2


def test_each_chart_downloads_its_table_as_csv(workspace, admin_user, setup):
    import csv
    import io

    client = client_for(admin_user)
    html = client.get(reverse("inbox_supervisor") + "?days=30").content.decode()
    for chart_id in (
        "chart-open",
        "chart-waiting",
        "chart-frt",
        "chart-resolution",
        "chart-agents",
        "chart-sla",
    ):
        link = (
            re.search(rf'<a href="([^"]+)" download id="{chart_id}-csv">', html)
            .group(1)
            .replace("&amp;", "&")
        )
        response = client.get(link)
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
        expected = {label.replace("&gt;", ">"): cells for label, cells in table(html, chart_id).items()}
        assert {row[0]: row[1:] for row in rows[1:]} == expected, chart_id
    assert client.get(reverse("inbox_supervisor") + "?format=csv&chart=nope").status_code == 404


def test_another_workspaces_numbers_never_show(workspace, other_workspace, other_admin, setup):
    html = client_for(other_admin).get(reverse("inbox_supervisor")).content.decode()
    assert re.search(r"<dt>Open conversations</dt><dd><b>0</b>", html)
    assert "collections" not in html and "gina-agent" not in html


@pytest.mark.parametrize("role", ["agent", "marketer", "viewer"])
def test_only_supervisors(workspace, role):
    user = _member(workspace, role, f"u-{role}")
    assert client_for(user).get(reverse("inbox_supervisor")).status_code == 403


def test_the_figures_cost_the_same_queries_whatever_the_volume(workspace, admin_user):
    now = timezone.now()

    def grow(n, prefix):
        for i in range(n):
            q = queue(workspace, f"{prefix}{i % 3}")
            agent = _member(workspace, "agent", f"{prefix}-agent-{i}")
            conversation(workspace, ContactFactory(workspace=workspace), q, assignee=agent,
                         waiting_since=now - i * MIN, first_response_at=now - MIN,
                         status="resolved" if i % 2 else "open", resolved_at=now if i % 2 else None)  # fmt: skip

    grow(3, "a")
    with CaptureQueriesContext(connection) as few:
        supervisor_figures(workspace=workspace, now=now)
    grow(60, "b")
    with CaptureQueriesContext(connection) as many:
        figures = supervisor_figures(workspace=workspace, now=now)
    assert len(few) == len(many) <= 10
    assert figures["open_total"] == 2 + 30
