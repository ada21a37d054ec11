"""The dashboard's and the health page's charts (cpaas.charts.Chart: configuration, table, CSV),
built from the numbers `dashboard` and `health` compute. Time labels are in the workspace's zone."""

from __future__ import annotations

import datetime as dt

from cpaas.charts import Chart
from cpaas.models import Workspace

from . import rollups
from .dashboard import STATUSES
from .periods import Period

STATUS_LABELS = {
    "queued": "Queued", "deferred": "Deferred", "sending": "Sending", "sent": "Sent", "unknown": "Outcome unknown",
    "delivered": "Delivered", "read": "Read", "failed": "Failed", "blocked": "Blocked", "received": "Received",
    "opted_in": "Opted in", "pending": "Pending", "opted_out": "Opted out", "suppressed": "Suppressed",
}  # fmt: skip
STAGE_LABELS = {"queued_sent": "queued → sent", "sent_delivered": "sent → delivered"}


def buckets(workspace: Workspace, period: Period, grain: str) -> list[tuple[dt.datetime, str]]:
    """Every bucket of the period with its label in the workspace's zone (zeros are drawn too)."""
    tz = rollups.zone_of(workspace)
    if grain == "day":
        return [(rollups.day_bounds(workspace, d)[0], d.strftime("%a %d %b")) for d in period.days()]
    out, at = [], period.start.astimezone(dt.UTC)  # absolute hours across DST
    while at < period.end:
        out.append((at, at.astimezone(tz).strftime("%H:%M")))
        at += rollups.HOUR
    return out


def _time_chart(workspace, period, grain, series, order, chart_id, title, y_title) -> Chart:
    present = [s for s in order if any(s in b["counts"] for b in series)] or order[:1]
    by_start = {b["start"]: b["counts"] for b in series}
    rows = [
        [label, *[by_start.get(start, {}).get(s, 0) for s in present]]
        for start, label in buckets(workspace, period, grain)
    ]
    first = "Hour" if grain == "hour" else "Day"
    return Chart(
        chart_id,
        title,
        [first, *[STATUS_LABELS.get(s, s) for s in present]],
        rows,
        stacked=True,
        y_title=y_title,
    )


def home_charts(workspace: Workspace, data: dict) -> list[Chart]:
    period = data["period"]
    charts = []
    m = data.get("marketing")
    if m:
        charts.append(Chart(
            "chart-journeys", "Live journeys: entries and goal conversions",
            ["Journey", "Entries", "Goal conversions", "Conversion rate (%)", "Entries (previous period)",
             "Conversions (previous period)"],
            [[j["name"], j["entries"], j["conversions"], j["conversion_rate"], j["entries_previous"],
              j["conversions_previous"]] for j in m["journeys"]],
            horizontal=True, plot=[1, 2],
        ))  # fmt: skip
        present = [s for s in STATUSES if any(v.get(s) for v in m["today_by_channel"].values())]
        charts.append(Chart(
            "chart-today", f"Messages today ({m['today']:%a %d %b}) by channel and status",
            ["Channel", *[STATUS_LABELS[s] for s in present]],
            [[kind, *[counts.get(s, 0) for s in present]] for kind, counts in m["today_by_channel"].items()],
            stacked=True, y_title="Messages",
        ))  # fmt: skip
        charts.append(_time_chart(workspace, period, m["grain"], m["series"], STATUSES, "chart-messages",
                                  "Messages by status", "Messages"))  # fmt: skip
    c = data.get("compliance")
    if c:
        grain = "hour" if period.length == 1 else "day"
        charts.append(_time_chart(workspace, period, grain, c["consent_series"],
                                  ["opted_in", "pending", "opted_out", "suppressed"], "chart-consent",
                                  "Consent changes", "Consent events"))  # fmt: skip
        charts.append(optout_chart(c["optout_rates"]))
        charts.append(Chart(
            "chart-blocked", "Blocked sends by consent rule", ["Rule", "Blocked", "Previous period"],
            [[b["rule"], b["count"], b["previous"]] for b in c["blocked"]], horizontal=True,
        ))  # fmt: skip
        charts.append(Chart(
            "chart-suppressions", "Suppressions added by reason", ["Reason", "Added", "Previous period"],
            [[s["reason"], s["count"], s["previous"]] for s in c["suppressions"]], horizontal=True,
        ))  # fmt: skip
        charts.append(errors_chart(c["provider_errors"]))
    return charts


def optout_chart(rates: list[dict]) -> Chart:
    return Chart(
        "chart-optout-rate", "Opt-outs per 1,000 messages by channel and purpose",
        ["Channel / purpose", "Messages sent", "Opt-outs", "Opt-outs per 1,000"],
        [[f"{r['kind']} / {r['purpose']}", r["messages"], r["opt_outs"], r["per_1000"]] for r in rates],
        horizontal=True, plot=[3],
    )  # fmt: skip


def errors_chart(errors: list[dict]) -> Chart:
    return Chart(
        "chart-errors", "Provider errors by code", ["Provider / code", "Messages", "Previous period", "What it means"],
        [[f"{e['provider']} {e['code']}", e["count"], e["previous"], e["explanation"]] for e in errors[:15]],
        horizontal=True, plot=[1, 2],
    )  # fmt: skip


def health_charts(data: dict) -> list[Chart]:
    delivery = data["delivery"]
    lat_cols, lat_rows = ["Channel / provider"], [[f"{d['kind']} / {d['provider']}"] for d in delivery]
    for stage, label in STAGE_LABELS.items():
        for p in ("p50", "p95"):
            lat_cols.append(f"{label} {p} (s)")
            for row, d in zip(lat_rows, delivery, strict=True):
                row.append(d["latency"][stage][f"{p}_s"])
    return [
        Chart(
            "chart-delivery", "Delivery rate by channel and provider",
            ["Channel / provider", "Sent", "Delivered", "Failed", "Delivery rate (%)", "Previous period (%)"],
            [[f"{d['kind']} / {d['provider']}", d["attempted"], d["delivered"], d["failed"], d["delivery_rate"],
              d["delivery_rate_previous"]] for d in delivery],
            plot=[4, 5], y_title="%",
        ),
        Chart("chart-latency", "Latency by channel and provider (seconds)", lat_cols, lat_rows, y_title="Seconds"),
        errors_chart(data["errors"]),
        Chart(
            "chart-optouts-journey", "Opt-outs per 1,000 messages by journey",
            ["Journey", "Messages sent", "Opt-outs", "Opt-outs per 1,000"],
            [[r["journey"], r["messages"], r["opt_outs"], r["per_1000"]] for r in data["optouts_by_journey"]],
            horizontal=True, plot=[3],
        ),
    ]  # fmt: skip
