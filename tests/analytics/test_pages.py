"""The home dashboard by role and the messaging health page: numbers from the rollups equal the
raw rows, each chart's CSV holds its table, periods are validated, nothing of another workspace
shows, and a page view reads no raw message, consent or enrolment table."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics import rollups
from channels_app.models import Message
from inbox.models import Queue, QueueMember
from tests.analytics.factories import message, populate
from tests.conftest import client_for
from tests.factories import ContactFactory

RAW_TABLES = ("channels_app_message", "consent_consentevent", "journeys_enrollment", "consent_suppression")


@pytest.fixture
def data(workspace, channels):
    workspace.timezone = "America/Sao_Paulo"
    workspace.save()
    now = timezone.now()
    day = now.astimezone(rollups.zone_of(workspace)).date() - dt.timedelta(days=2)
    around, _ = rollups.day_bounds(workspace, day)
    made = populate(workspace, around=around, n=80)
    person = made["people"][0]
    for i, status in enumerate(["delivered", "delivered", "failed", "blocked"]):
        message(workspace, person, channels["sms"], now - dt.timedelta(minutes=2), status, seed=900 + i)
    rollups.refresh(now=now)
    return made


def safe(value) -> str:
    text = str(value)
    return "'" + text if text.startswith("=") else text


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_marketer_sees_journeys_and_messages_today(workspace, marketer, data, channels):
    client = client_for(marketer)
    response = client.get("/?range=7d")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="marketing"' in html and 'id="compliance"' not in html
    # messages today by channel and status: the four sent two minutes ago
    (today,) = [c for c in response.context["charts"] if c.id == "chart-today"]
    table = {row[0]: dict(zip(today.columns[1:], row[1:], strict=True)) for row in today.rows}
    assert table["sms"] == {"Delivered": 2, "Failed": 1, "Blocked": 1}
    # the journeys' entries over the period equal the raw enrolments
    period = response.context["period"]
    for j in data["journeys"]:
        raw = j.enrollments.filter(
            is_test=False, entered_at__gte=period.start, entered_at__lt=period.end
        ).count()
        (row,) = [r for r in response.context["marketing"]["journeys"] if r["id"] == j.pk]
        assert row["entries"] == raw
        conversions = j.enrollments.filter(
            is_test=False, status="goal", ended_at__gte=period.start, ended_at__lt=period.end
        ).count()
        assert row["conversions"] == conversions


def test_each_chart_downloads_its_table_as_csv(workspace, admin_user, data):
    # a journey named like a spreadsheet formula
    data["journeys"][0].__class__.objects.filter(pk=data["journeys"][0].pk).update(name="=HYPERLINK(1)")
    client = client_for(admin_user)
    page = client.get("/?range=30d")
    for chart in page.context["charts"]:
        response = client.get(chart.csv_url)
        assert response.status_code == 200, chart.id
        assert response["Content-Type"].startswith("text/csv")
        rows = read_csv(response)
        assert rows[0] == chart.columns
        assert rows[1:] == [["" if v is None else safe(v) for v in row] for row in chart.rows], chart.id
    (journeys,) = [c for c in page.context["charts"] if c.id == "chart-journeys"]
    assert "'=HYPERLINK(1)" in {row[0] for row in read_csv(client.get(journeys.csv_url))}
    assert client.get("/?format=csv&chart=nope").status_code == 404


def test_admin_sees_compliance_numbers_equal_to_raw(workspace, admin_user, data):
    from consent.models import ConsentEvent

    client = client_for(admin_user)
    response = client.get("/?range=30d")
    html = response.content.decode()
    assert 'id="compliance"' in html and 'id="queues"' not in html
    period = response.context["period"]
    figures = {f["key"]: f["value"] for f in response.context["compliance"]["figures"]}
    window = dict(recorded_at__gte=period.start, recorded_at__lt=period.end)
    assert (
        figures["opt_outs"]
        == ConsentEvent.objects.filter(workspace=workspace, new_status="opted_out", **window).count()
    )
    assert figures["consent_changes"] == ConsentEvent.objects.filter(workspace=workspace, **window).count()
    created = dict(created_at__gte=period.start, created_at__lt=period.end)
    blocked = Message.objects.filter(workspace=workspace, status="blocked", **created)
    assert figures["blocked"] == blocked.count()
    rows = {b["rule"]: b["count"] for b in response.context["compliance"]["blocked"]}
    for rule in set(blocked.values_list("consent_rule", flat=True)):
        assert rows[rule] == blocked.filter(consent_rule=rule).count()
    errors = {(e["provider"], e["code"]): e for e in response.context["compliance"]["provider_errors"]}
    assert errors[("sandbox", "30003")]["explanation"].startswith("Unreachable handset")


def test_agent_sees_their_queues(workspace, agent, admin_user):
    from inbox.models import Conversation

    mine, other = (
        Queue.objects.create(workspace=workspace, name="Collections"),
        Queue.objects.create(workspace=workspace, name="Support"),
    )
    QueueMember.objects.create(queue=mine, user=agent)
    person = ContactFactory(workspace=workspace, phone="+447911550900")
    now = timezone.now()
    for i, (queue, assignee) in enumerate([(mine, None), (mine, agent), (other, None)]):
        Conversation.objects.create(workspace=workspace, number=i + 1, contact=ContactFactory(workspace=workspace) if i else person,
                                    queue=queue, assignee=assignee, opened_at=now, created_at=now)  # fmt: skip
    response = client_for(agent).get("/")
    assert response.status_code == 200
    assert response.context["sections"] == ["queues"]
    assert response.context["queues"] == [
        {"id": mine.pk, "name": "Collections", "open": 2, "unassigned": 1, "mine": 1, "breached": 0}
    ]
    assert "Support" not in response.content.decode()
    # and nothing of the marketing figures
    assert "marketing" not in response.context


def test_health_page_numbers(workspace, marketer, data):
    client = client_for(marketer)
    response = client.get("/analytics/health/?range=30d")
    assert response.status_code == 200
    period = response.context["period"]
    raw = Message.objects.filter(workspace=workspace, created_at__gte=period.start, created_at__lt=period.end)
    rows = {(d["kind"], d["provider"]): d for d in response.context["delivery"]}
    sms = raw.filter(kind="sms")
    attempted = sms.filter(status__in=["sending", "sent", "unknown", "delivered", "read", "failed"]).count()
    delivered = sms.filter(status__in=["delivered", "read"]).count()
    assert rows[("sms", "sandbox")]["attempted"] == attempted
    assert rows[("sms", "sandbox")]["delivery_rate"] == round(100 * delivered / attempted, 2)
    errors = {(e["kind"], e["code"]): e["count"] for e in response.context["errors"]}
    for (kind, code), n in errors.items():
        assert n == raw.filter(kind=kind, error_code=code, status__in=["failed", "unknown"]).count()
    html = response.content.decode()
    assert "Unknown handset: the number does not exist" in html or "Unreachable handset" in html
    assert client.get("/analytics/health/?format=csv&chart=chart-delivery").status_code == 200


def test_a_page_view_reads_no_raw_table(workspace, admin_user, data):
    client = client_for(admin_user)
    for url in ("/?range=30d", "/analytics/health/?range=30d"):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        raw = [q["sql"] for q in ctx.captured_queries if any(f'"{t}"' in q["sql"] for t in RAW_TABLES)]
        # only the engine's backlog (enrolments due now, on its partial index) is read live
        assert all('"due_at" <=' in sql for sql in raw), raw


def test_bad_periods_are_explained(workspace, admin_user):
    client = client_for(admin_user)
    html = client.get("/?from=2026-13-01").content.decode()
    assert "&#x27;2026-13-01&#x27; is not a date (YYYY-MM-DD)." in html
    html = client.get("/?from=2026-03-10&to=2026-03-01").content.decode()
    assert "The period starts (2026-03-10) after it ends (2026-03-01)." in html
    html = client.get("/?from=2020-01-01&to=2026-03-01").content.decode()
    assert "At most 366 days at once." in html
    response = client.get("/?from=2026-03-01&to=2026-03-07")
    assert response.context["period"].length == 7
    assert response.context["period"].first == dt.date(2026, 3, 1)


def test_another_workspace_numbers_are_not_shown(workspace, other_workspace, admin_user, other_admin):
    now = timezone.now()
    populate(other_workspace, around=now - dt.timedelta(days=2), n=30)
    rollups.refresh(now=now)
    response = client_for(admin_user).get("/?range=30d")
    assert all(f["value"] in (0, None) for f in response.context["marketing"]["figures"])
    assert all(f["value"] in (0, None) for f in response.context["compliance"]["figures"])
    assert response.context["marketing"]["journeys"] == []
    health = client_for(admin_user).get("/analytics/health/?range=30d")
    assert health.context["delivery"] == [] and health.context["errors"] == []


def test_viewer_and_agent_permissions(workspace, viewer, agent):
    assert client_for(viewer).get("/analytics/health/").status_code == 200
    assert client_for(agent).get("/analytics/health/").status_code == 403
