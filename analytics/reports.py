"""What the journey analytics page and the KPI pages show: charts (cpaas.charts.Chart: the
Chart.js configuration is made from the chart's own table rows, so a chart never shows a number
its table alternative does not) and detail tables, which are the same `Chart` objects shown as a
table only, so every table of a page downloads as CSV the one way (`?format=csv&chart=<id>`,
cpaas.charts.chart_csv)."""

from __future__ import annotations

from cpaas.charts import Chart


def table(id_: str, title: str, columns: list[str], rows: list[list]) -> Chart:
    """A table of a page, shown without a chart (its CSV is a chart's CSV)."""
    return Chart(id=id_, title=title, columns=columns, rows=rows)


def pct(x) -> str:
    return "" if x is None else f"{100 * x:.1f} %"


def num(x) -> float | None:
    """A share as a plottable percentage."""
    return None if x is None else round(100 * x, 1)


def duration(seconds) -> str:
    if seconds is None:
        return ""
    s = float(seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


# --- the journey page ---------------------------------------------------------------------------


def journey_charts(data: dict) -> list[Chart]:
    nodes = data["nodes"]
    funnel = Chart(
        id="chart-funnel", title="Contacts per node", horizontal=True, y_title="Contacts",
        columns=["node", "entered", "left by an exit", "completed there", "failed or dropped there"],
        rows=[[n["node"], n["entered"], sum(x["count"] for x in n["exits"]), n["completed"],
               n["failed"] + n["ended_here"]] for n in nodes],
        note="Since the journey started: the numbers of the canvas.",
    )  # fmt: skip
    conv = data["conversions"]
    columns, plot = ["date"], []
    for v in conv["versions"]:
        columns += [
            f"v{v['version']} enrolments",
            f"v{v['version']} conversions",
            f"v{v['version']} rate (%)",
        ]
        plot.append(len(columns) - 1)
    rows = []
    for i, day in enumerate(conv["dates"]):
        row = [day]
        for v in conv["versions"]:
            s = v["series"][i]
            row += [s["enrolments"], s["conversions"], num(s["rate"])]
        rows.append(row)
    versions = Chart(id="chart-versions", title="Goal conversion per version, cumulative", kind="line",
                     columns=columns, rows=rows, plot=plot or None, y_title="%")  # fmt: skip
    statuses = sorted({m["status"] for m in data["messages"]})
    by: dict[tuple[str, str], int] = {}
    for m in data["messages"]:
        by[(m["channel"], m["status"])] = by.get((m["channel"], m["status"]), 0) + m["messages"]
    messages = Chart(id="chart-messages", title="Messages per channel and status", stacked=True,
                     columns=["channel", *statuses],
                     rows=[[c, *(by.get((c, s), 0) for s in statuses)] for c in sorted({m["channel"] for m in data["messages"]})])  # fmt: skip
    return [funnel, versions, messages]


def journey_tables(data: dict) -> list[Chart]:
    rows = []
    for n in data["nodes"]:
        for i, x in enumerate(n["exits"] or [{"exit": "", "count": "", "share": None, "to": ""}]):
            first = i == 0
            rows.append([
                n["node"] if first else "", n["type"] if first else "", n["entered"] if first else "",
                x["exit"], x["count"], pct(x["share"]), x["to"] or ("end" if x["exit"] else ""),
                n["waiting"] if first else "", n["failed"] if first else "", n["completed"] if first else "",
                n["ended_here"] if first else "", duration(n["median_s"]) if first else "",
            ])  # fmt: skip
    funnel = table("funnel", "Funnel per node, by exit",
                   ["node", "type", "entered", "exit", "left by the exit", "share of entered", "to", "waiting now",
                    "failed", "completed there", "dropped there", "median time spent"], rows)  # fmt: skip
    reasons = table("reasons", "Drop-off and failure reasons by node", ["node", "ended as", "reason", "contacts"],
                    [[r["node"], r["status"], r["reason"], r["contacts"]] for r in data["reasons"]])  # fmt: skip
    messages = table("messages", "Messages by channel, status and provider error code",
                     ["channel", "status", "error code", "messages", "segments"],
                     [[m["channel"], m["status"], m["code"], m["messages"], m["segments"]] for m in data["messages"]])  # fmt: skip
    cost = table("cost", "Cost by channel", ["channel", "messages", "segments", "price per segment", "currency", "cost"],
                 [[r["channel"], r["messages"], r["segments"], r["price"] or "no price", r["currency"], r["cost"] or ""]
                  for r in data["cost"]["channels"]])  # fmt: skip
    return [funnel, reasons, messages, cost]


# --- the KPI pages ------------------------------------------------------------------------------

PTP_COLUMNS = ["asked", "7 days over", "7 days not over", "paid within 7 days", "paid within 7 days (%)",
               "promises", "kept", "broken", "open", "amount promised", "amount paid"]  # fmt: skip


def _ptp(r: dict) -> list:
    return [r["asked"], r["closed"], r["window_open"], r["paid_7d"], num(r["paid_rate"]), r["promises"], r["kept"],
            r["broken"], r["open_promises"], r["amount_promised"], r["amount_paid"]]  # fmt: skip


def ptp_report(data: dict) -> tuple[Chart, list[Chart]]:
    chart = Chart(id="chart-kpi", title="Paid within 7 days and promises kept, by variant", y_title="%",
                  columns=["variant", "paid within 7 days (%)", "promises kept (%)", "asked"],
                  rows=[[r["variant"], num(r["paid_rate"]), num(r["keep_rate"]), r["asked"]] for r in data["by_variant"]],
                  plot=[1, 2])  # fmt: skip
    return chart, [
        table("overall", "Every contact asked", ["all", *PTP_COLUMNS], [["all", *_ptp(data["overall"])]]),
        table("variant", "By A/B variant", ["variant", *PTP_COLUMNS],
              [[r["variant"], *_ptp(r)] for r in data["by_variant"]]),
        table("channel", "By channel of the message", ["channel", *PTP_COLUMNS],
              [[r["channel"], *_ptp(r)] for r in data["by_channel"]]),
        table("daily", "By day the message was sent", ["date", *PTP_COLUMNS],
              [[r["date"], *_ptp(r)] for r in data["daily"]]),
    ]  # fmt: skip


CALL_COLUMNS = ["first calls", "answered", "no answer", "busy", "pickup rate (%)"]


def _calls(r: dict) -> list:
    return [r["calls"], r["answered"], r["no_answer"], r["busy"], num(r["pickup_rate"])]


def warmup_report(data: dict) -> tuple[Chart, list[Chart]]:
    chart = Chart(id="chart-kpi", title="First-time pickup rate, with and without a warm-up message", y_title="%",
                  columns=["warm-up message", *CALL_COLUMNS],
                  rows=[["with", *_calls(data["with_warmup"])], ["without", *_calls(data["without_warmup"])]],
                  plot=[5])  # fmt: skip
    return chart, [
        table("daily", "By day of the first call", ["date", *[f"{g} {h}" for g in ("with", "without") for h in CALL_COLUMNS]],
              [[r["date"], *_calls(r["with_warmup"]), *_calls(r["without_warmup"])] for r in data["daily"]]),
    ]  # fmt: skip


def otp_report(data: dict) -> tuple[Chart, list[Chart]]:
    rows = [[r["channel"], r["started"], r["verified"], num(r["verification_rate"]), r["median_s"], r["p90_s"],
             r["fallback"], num(r["fallback_rate"]), r["verified_after_fallback"], r["pending"]]
            for r in data["by_channel"]]  # fmt: skip
    chart = Chart(id="chart-kpi", title="Verification and fallback rates by channel of the last code", y_title="%",
                  columns=["channel", "started", "verified", "verification rate (%)", "median seconds to verify",
                           "90th percentile (s)", "fallback used", "fallback rate (%)", "verified after a fallback",
                           "pending"], rows=rows, plot=[3, 7])  # fmt: skip
    j = data["journeys"]
    support = table("support", "Journeys' OTP nodes",
                    ["left an OTP node", "sent to support", "share sent to support", *[f"exit {e}" for e in j["exits"]]],
                    [[j["left_otp_node"], j["sent_to_support"], pct(j["support_rate"]), *j["exits"].values()]])  # fmt: skip
    return chart, [support]


def lifecycle_report(data: dict) -> tuple[Chart, list[Chart]]:
    chart = Chart(id="chart-kpi", title="Contacts by stage at the end of each day (or week)", stacked=True,
                  columns=["date", *data["stages"]],
                  rows=[[r["date"], *(r[s] for s in data["stages"])] for r in data["series"]])  # fmt: skip
    return chart, [
        table("now", "Contacts by stage now", ["stage", "contacts"], [[r["stage"], r["contacts"]] for r in data["now"]]),
        table("flows", "Moves between stages in the period", ["from", "to", "contacts"],
              [[f["from"], f["to"], f["contacts"]] for f in data["flows"]]),
    ]  # fmt: skip


KPIS = {
    "promise-to-pay": ("Promise to pay", ptp_report),
    "call-warmup": ("Call warm-up", warmup_report),
    "otp": ("OTP onboarding", otp_report),
    "lifecycle": ("Lifecycle", lifecycle_report),
}
