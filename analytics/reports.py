"""What the journey analytics page and the KPI pages show, as tables (the numbers, their CSV
download and each chart's table alternative) and Chart.js configurations built from those same
rows, so a chart can never show a number its table does not."""

from __future__ import annotations

from dataclasses import dataclass, field

# Okabe–Ito: readable on white and for the common colour-vision deficiencies
COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


@dataclass
class Table:
    name: str
    title: str
    header: list[str]
    rows: list[list] = field(default_factory=list)


def pct(x) -> str:
    return "" if x is None else f"{100 * x:.1f} %"


def _duration(seconds) -> str:
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


def journey_tables(data: dict) -> dict[str, Table]:
    funnel = Table("funnel", "Funnel per node",
                   ["node", "type", "entered", "exit", "left by the exit", "share of entered", "to",
                    "waiting now", "failed", "completed there", "dropped there", "median time spent"])  # fmt: skip
    for n in data["nodes"]:
        exits = n["exits"] or [{"exit": "", "count": "", "share": None, "to": ""}]
        for i, x in enumerate(exits):
            first = i == 0
            funnel.rows.append([
                n["node"] if first else "", n["type"] if first else "", n["entered"] if first else "",
                x["exit"], x["count"], pct(x["share"]), x["to"] or ("end" if x["exit"] else ""),
                n["waiting"] if first else "", n["failed"] if first else "", n["completed"] if first else "",
                n["ended_here"] if first else "",
                _duration(n["median_s"]) if first else "",
            ])  # fmt: skip
    reasons = Table(
        "reasons", "Drop-off and failure reasons by node", ["node", "ended as", "reason", "contacts"]
    )
    reasons.rows = [[r["node"], r["status"], r["reason"], r["contacts"]] for r in data["reasons"]]
    conv = data["conversions"]
    versions = Table("versions", "Goal conversion per version (cumulative)",
                     ["date"] + [f"v{v['version']} {h}" for v in conv["versions"]
                                 for h in ("enrolments", "conversions", "rate")])  # fmt: skip
    for i, day in enumerate(conv["dates"]):
        row = [day]
        for v in conv["versions"]:
            s = v["series"][i]
            row += [s["enrolments"], s["conversions"], pct(s["rate"])]
        versions.rows.append(row)
    messages = Table("messages", "Messages by channel, status and provider error code",
                     ["channel", "status", "error code", "messages", "segments"])  # fmt: skip
    messages.rows = [
        [m["channel"], m["status"], m["code"], m["messages"], m["segments"]] for m in data["messages"]
    ]
    c = data["cost"]
    cost = Table("cost", "Cost", ["channel", "messages", "segments", "price per segment", "currency", "cost"])
    cost.rows = [[r["channel"], r["messages"], r["segments"], r["price"] or "no price", r["currency"], r["cost"] or ""]
                 for r in c["channels"]]  # fmt: skip
    return {t.name: t for t in (funnel, reasons, versions, messages, cost)}


def funnel_chart(data: dict) -> dict:
    """Entered per node in graph order, and how many left by an exit (bars)."""
    nodes = data["nodes"]
    return {
        "type": "bar",
        "data": {
            "labels": [n["node"] for n in nodes],
            "datasets": [
                {"label": "Entered", "data": [n["entered"] for n in nodes], "backgroundColor": COLOURS[0]},
                {
                    "label": "Left by an exit",
                    "data": [sum(x["count"] for x in n["exits"]) for n in nodes],
                    "backgroundColor": COLOURS[2],
                },
                {
                    "label": "Failed or ended there",
                    "data": [n["failed"] + n["ended_here"] for n in nodes],
                    "backgroundColor": COLOURS[5],
                },
            ],  # fmt: skip
        },
        "options": {
            "indexAxis": "y",
            "scales": {"x": {"beginAtZero": True, "title": {"display": True, "text": "Contacts"}}},
        },
    }


def versions_chart(data: dict) -> dict:
    conv = data["conversions"]
    return {
        "type": "line",
        "data": {
            "labels": conv["dates"],
            "datasets": [
                {
                    "label": f"v{v['version']}",
                    "borderColor": COLOURS[i % len(COLOURS)],
                    "backgroundColor": COLOURS[i % len(COLOURS)],
                    "tension": 0,
                    "pointRadius": 2,
                    "data": [None if s["rate"] is None else round(100 * s["rate"], 2) for s in v["series"]],
                }
                for i, v in enumerate(conv["versions"])
            ],  # fmt: skip
        },
        "options": {
            "scales": {
                "y": {
                    "beginAtZero": True,
                    "title": {"display": True, "text": "Goal conversion, cumulative (%)"},
                }
            }
        },
    }


def messages_chart(data: dict) -> dict:
    """Messages per channel, stacked by status."""
    channels = sorted({m["channel"] for m in data["messages"]})
    statuses = sorted({m["status"] for m in data["messages"]})
    counts: dict[tuple[str, str], int] = {}
    for m in data["messages"]:
        counts[(m["channel"], m["status"])] = counts.get((m["channel"], m["status"]), 0) + m["messages"]
    return {
        "type": "bar",
        "data": {
            "labels": channels,
            "datasets": [
                {
                    "label": s,
                    "backgroundColor": COLOURS[i % len(COLOURS)],
                    "data": [counts.get((c, s), 0) for c in channels],
                }
                for i, s in enumerate(statuses)
            ],  # fmt: skip
        },
        "options": {"scales": {"x": {"stacked": True}, "y": {"stacked": True, "beginAtZero": True}}},
    }


# --- the KPI pages ------------------------------------------------------------------------------


def _ptp_cells(r: dict) -> list:
    return [r["asked"], r["closed"], r["window_open"], r["paid_7d"], pct(r["paid_rate"]), r["promises"],
            r["kept"], r["broken"], r["open_promises"], r["amount_promised"], r["amount_paid"]]  # fmt: skip


PTP_HEADER = ["asked", "7 days over", "7 days not over", "paid within 7 days", "paid within 7 days (%)",
              "promises", "kept", "broken", "open", "amount promised", "amount paid"]  # fmt: skip


def ptp_tables(data: dict) -> dict[str, Table]:
    overall = Table("overall", "All contacts asked", PTP_HEADER, [_ptp_cells(data["overall"])])
    variant = Table("variant", "By A/B variant", ["variant"] + PTP_HEADER,
                    [[r["variant"]] + _ptp_cells(r) for r in data["by_variant"]])  # fmt: skip
    channel = Table("channel", "By channel of the message", ["channel"] + PTP_HEADER,
                    [[r["channel"]] + _ptp_cells(r) for r in data["by_channel"]])  # fmt: skip
    daily = Table("daily", "By day the message was sent", ["date"] + PTP_HEADER,
                  [[r["date"]] + _ptp_cells(r) for r in data["daily"]])  # fmt: skip
    return {t.name: t for t in (overall, variant, channel, daily)}


def ptp_chart(data: dict) -> dict:
    rows = data["by_variant"] or []
    return {
        "type": "bar",
        "data": {
            "labels": [r["variant"] for r in rows],
            "datasets": [
                {
                    "label": "Paid within 7 days (%)",
                    "backgroundColor": COLOURS[2],
                    "data": [
                        None if r["paid_rate"] is None else round(100 * r["paid_rate"], 1) for r in rows
                    ],
                },
                {
                    "label": "Promises kept (%)",
                    "backgroundColor": COLOURS[0],
                    "data": [
                        None if r["keep_rate"] is None else round(100 * r["keep_rate"], 1) for r in rows
                    ],
                },
            ],  # fmt: skip
        },
        "options": {
            "scales": {"y": {"beginAtZero": True, "max": 100, "title": {"display": True, "text": "%"}}}
        },
    }


CALL_HEADER = ["first calls", "answered", "no answer", "busy", "pickup rate"]


def _call_cells(r: dict) -> list:
    return [r["calls"], r["answered"], r["no_answer"], r["busy"], pct(r["pickup_rate"])]


def warmup_tables(data: dict) -> dict[str, Table]:
    groups = Table("groups", "First-time pickup", ["warm-up message"] + CALL_HEADER,
                   [["with", *_call_cells(data["with_warmup"])], ["without", *_call_cells(data["without_warmup"])]])  # fmt: skip
    daily = Table("daily", "By day of the first call",
                  ["date"] + [f"{g} {h}" for g in ("with", "without") for h in CALL_HEADER],
                  [[r["date"], *_call_cells(r["with_warmup"]), *_call_cells(r["without_warmup"])] for r in data["daily"]])  # fmt: skip
    return {t.name: t for t in (groups, daily)}


def warmup_chart(data: dict) -> dict:
    rates = [data["with_warmup"]["pickup_rate"], data["without_warmup"]["pickup_rate"]]
    return {
        "type": "bar",
        "data": {
            "labels": ["With a warm-up message", "Without"],
            "datasets": [
                {
                    "label": "First-time pickup rate (%)",
                    "backgroundColor": [COLOURS[2], COLOURS[5]],
                    "data": [None if r is None else round(100 * r, 1) for r in rates],
                }
            ],  # fmt: skip
        },
        "options": {
            "scales": {"y": {"beginAtZero": True, "max": 100, "title": {"display": True, "text": "%"}}}
        },
    }


def otp_tables(data: dict) -> dict[str, Table]:
    channels = Table("channels", "Verifications by channel of the last code",
                     ["channel", "started", "verified", "verification rate", "median time to verify",
                      "90th percentile", "fallback used", "fallback rate", "verified after a fallback", "pending"],
                     [[r["channel"], r["started"], r["verified"], pct(r["verification_rate"]), _duration(r["median_s"]),
                       _duration(r["p90_s"]), r["fallback"], pct(r["fallback_rate"]), r["verified_after_fallback"],
                       r["pending"]] for r in data["by_channel"]])  # fmt: skip
    j = data["journeys"]
    support = Table("support", "Journeys' OTP nodes", ["left an OTP node", "sent to support", "share sent to support"]
                    + [f"exit {e}" for e in j["exits"]],
                    [[j["left_otp_node"], j["sent_to_support"], pct(j["support_rate"]), *j["exits"].values()]])  # fmt: skip
    return {t.name: t for t in (channels, support)}


def otp_chart(data: dict) -> dict:
    rows = [r for r in data["by_channel"] if r["channel"] != "all"]
    return {
        "type": "bar",
        "data": {
            "labels": [r["channel"] for r in rows],
            "datasets": [
                {
                    "label": "Verification rate (%)",
                    "backgroundColor": COLOURS[2],
                    "data": [
                        None if r["verification_rate"] is None else round(100 * r["verification_rate"], 1)
                        for r in rows
                    ],
                },
                {
                    "label": "Fallback rate (%)",
                    "backgroundColor": COLOURS[1],
                    "data": [
                        None if r["fallback_rate"] is None else round(100 * r["fallback_rate"], 1)
                        for r in rows
                    ],
                },
            ],  # fmt: skip
        },
        "options": {"scales": {"y": {"beginAtZero": True, "max": 100}}},
    }


def lifecycle_tables(data: dict) -> dict[str, Table]:
    now = Table(
        "now",
        "Contacts by stage now",
        ["stage", "contacts"],
        [[r["stage"], r["contacts"]] for r in data["now"]],
    )
    series = Table("series", "Contacts by stage at the end of each day (or week)", ["date", *data["stages"]],
                   [[r["date"], *(r[s] for s in data["stages"])] for r in data["series"]])  # fmt: skip
    flows = Table("flows", "Moves between stages in the period", ["from", "to", "contacts"],
                  [[f["from"], f["to"], f["contacts"]] for f in data["flows"]])  # fmt: skip
    return {t.name: t for t in (now, series, flows)}


def lifecycle_chart(data: dict) -> dict:
    return {
        "type": "bar",
        "data": {
            "labels": [r["date"] for r in data["series"]],
            "datasets": [
                {
                    "label": s,
                    "backgroundColor": COLOURS[i % len(COLOURS)],
                    "data": [r[s] for r in data["series"]],
                }
                for i, s in enumerate(data["stages"])
            ],
        },
        "options": {"scales": {"x": {"stacked": True}, "y": {"stacked": True, "beginAtZero": True}}},
    }


KPIS = {
    "promise-to-pay": ("Promise to pay", ptp_tables, ptp_chart),
    "call-warmup": ("Call warm-up", warmup_tables, warmup_chart),
    "otp": ("OTP onboarding", otp_tables, otp_chart),
    "lifecycle": ("Lifecycle", lifecycle_tables, lifecycle_chart),
}
