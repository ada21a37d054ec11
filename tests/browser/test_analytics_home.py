"""The home dashboard in a browser: every chart's canvas is drawn and holds the numbers of its
table alternative, the CSV download holds the same table, and the numbers move live when a
rollup refresh changes them (the realtime notice, coalesced)."""

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from analytics import rollups
from tests.analytics.factories import message, populate
from tests.browser.screenshots import docs_screenshot

pytestmark = pytest.mark.django_db(transaction=True)

CHART_VS_TABLE = """(id) => {
  const canvas = document.querySelector(`canvas[data-chart="${id}"]`);
  const chart = window.Chart.getChart(canvas);
  if (!chart) return null;
  const ctx = canvas.getContext("2d");
  const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
  const rows = [...document.querySelectorAll(`#${id}-table tbody tr`)].map((tr) =>
    [...tr.children].map((td) => td.textContent.trim()));
  return {painted, labels: chart.data.labels, datasets: chart.data.datasets.map((d) => [d.label, d.data]), rows,
          columns: [...document.querySelectorAll(`#${id}-table thead th`)].map((th) => th.textContent.trim())};
}"""


@pytest.fixture
def dashboard_data(workspace):
    from channels_app.models import Channel

    workspace.timezone = "Asia/Kolkata"
    workspace.save()
    now = timezone.now()
    day = now.astimezone(rollups.zone_of(workspace)).date() - dt.timedelta(days=2)
    made = populate(workspace, around=rollups.day_bounds(workspace, day)[0], n=80)
    sms = Channel.objects.get(workspace=workspace, kind="sms")
    for i, status in enumerate(["delivered", "delivered", "delivered", "failed", "sent"]):
        message(workspace, made["people"][0], sms, now - dt.timedelta(minutes=3), status, seed=700 + i)
    rollups.refresh(now=now)
    return {**made, "sms": sms, "now": now}


def test_charts_are_drawn_with_their_tables_numbers_and_download_as_csv(
    login, workspace, admin_user, dashboard_data
):
    page = login(admin_user, "/?range=30d")
    expect(page.get_by_role("heading", name="Home")).to_be_visible()
    charts = page.eval_on_selector_all("canvas[data-chart]", "cs => cs.map(c => c.dataset.chart)")
    assert {"chart-journeys", "chart-today", "chart-messages", "chart-consent", "chart-errors"} <= set(charts)
    page.wait_for_function("() => window.Chart && document.querySelectorAll('canvas[data-chart]').length")
    for chart_id in charts:
        page.wait_for_function(
            "(id) => window.Chart.getChart(document.querySelector(`canvas[data-chart='${id}']`))",
            arg=chart_id,
        )
        got = page.evaluate(CHART_VS_TABLE, chart_id)
        assert got["painted"] > 100, f"{chart_id} is blank"
        # the chart's labels and every drawn dataset are the table's first column and its columns
        assert got["labels"] == [r[0] for r in got["rows"] if len(r) > 1], chart_id
        for label, data in got["datasets"]:
            col = got["columns"].index(label)
            table = [r[col] for r in got["rows"] if len(r) > 1]
            numbers = [None if t == "–" else float(t.replace(",", "")) for t in table]
            assert [None if v is None else float(v) for v in data] == numbers, (chart_id, label)
    # messages today: the five sent three minutes ago, by status
    today = page.evaluate(CHART_VS_TABLE, "chart-today")
    sms = dict(zip(today["columns"][1:], next(r for r in today["rows"] if r[0] == "sms")[1:], strict=True))
    assert {k: v for k, v in sms.items() if v != "0"} == {"Sent": "1", "Delivered": "3", "Failed": "1"}
    docs_screenshot(page, "analytics-home.png")
    # the CSV download holds the table
    with page.expect_download() as info:
        page.locator("#chart-today-csv").click()
    rows = list(csv.reader(io.StringIO(open(info.value.path(), encoding="utf-8-sig").read())))
    assert rows[0] == today["columns"]
    assert rows[1:] == today["rows"]


def test_numbers_move_live_when_the_rollups_change(login, workspace, admin_user, dashboard_data):
    page = login(admin_user, "/?range=7d")
    page.wait_for_function("() => document.documentElement.dataset.live === 'connected'")
    sent = page.locator("#marketing-figures [data-figure='messages_sent'] b")
    before = int(sent.inner_text())
    # when two more messages go out and the worker's refresh runs
    now = timezone.now()
    for i in range(2):
        message(workspace, dashboard_data["people"][1], dashboard_data["sms"], now, "delivered", seed=800 + i)
    rollups.refresh(now=now + dt.timedelta(seconds=1))
    # then the page shows them without a reload
    expect(sent).to_have_text(str(before + 2), timeout=20000)
    today = page.evaluate(CHART_VS_TABLE, "chart-today")
    sms = dict(zip(today["columns"][1:], next(r for r in today["rows"] if r[0] == "sms")[1:], strict=True))
    assert sms["Delivered"] == "5"


def test_health_page_draws_its_charts(login, workspace, marketer, dashboard_data):
    page = login(marketer, "/analytics/health/?range=30d")
    expect(page.get_by_role("heading", name="Messaging health")).to_be_visible()
    page.wait_for_function(
        "() => window.Chart && window.Chart.getChart(document.querySelector('canvas[data-chart=\"chart-delivery\"]'))"
    )
    got = page.evaluate(CHART_VS_TABLE, "chart-delivery")
    assert got["painted"] > 100 and "sms / sandbox" in got["labels"]
    expect(page.locator("#errors-table")).to_contain_text("Unreachable handset")
    docs_screenshot(page, "analytics-health.png")
