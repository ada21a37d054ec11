"""The experiment page's charts, built on the server from the cached results (`results.compute`):
Chart.js configurations (JSON, drawn by static/js/charts.js) and, beside each, the rows of its
table alternative, so the numbers a chart shows can always be read as text."""

from __future__ import annotations

# One colour per arm, in the arms' order (control first); readable on white and for the common
# colour-vision deficiencies (Okabe–Ito).
COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def _band(colour: str) -> str:
    """The same colour, translucent, for an interval band."""
    return colour + "33"


def _pct(x) -> float | None:
    return None if x is None else round(100 * x, 3)


def arm_names(results: dict) -> list[str]:
    return [a["exit"] for a in results.get("arms") or []]


def _labels(results: dict) -> dict[str, str]:
    return {a["exit"]: a.get("name") or a["exit"] for a in results.get("arms") or []}


def _series(results: dict) -> tuple[list[str], dict]:
    series = results.get("series") or {}
    return series.get("dates") or [], series.get("arms") or {}


def cumulative_rate(results: dict) -> tuple[dict, list[dict]]:
    """Cumulative conversion rate per arm by day with its 95% interval as a band (two datasets, the
    upper one filled down to the lower one), and the table: one row per day and arm."""
    dates, per_arm = _series(results)
    names = _labels(results)
    datasets, rows = [], []
    for i, exit_ in enumerate(arm_names(results)):
        colour, name = COLOURS[i % len(COLOURS)], names[exit_]
        s = per_arm.get(exit_) or {}
        datasets += [
            {"label": f"{name}: 95% interval (low)", "data": [_pct(x) for x in s.get("low") or []],
             "borderWidth": 0, "pointRadius": 0, "fill": False, "backgroundColor": _band(colour),
             "borderColor": _band(colour)},
            {"label": f"{name}: 95% interval", "data": [_pct(x) for x in s.get("high") or []],
             "borderWidth": 0, "pointRadius": 0, "fill": "-1", "backgroundColor": _band(colour),
             "borderColor": _band(colour)},
            {"label": f"{name}: conversion rate", "data": [_pct(x) for x in s.get("rate") or []],
             "borderColor": colour, "backgroundColor": colour, "fill": False, "tension": 0, "pointRadius": 2},
        ]  # fmt: skip
        for d, day in enumerate(dates):
            rows.append({
                "date": day, "arm": name,
                "exposures": (s.get("cumulative_exposures") or [0] * len(dates))[d],
                "conversions": (s.get("cumulative_conversions") or [0] * len(dates))[d],
                "rate": (s.get("rate") or [None] * len(dates))[d],
                "interval": [(s.get("low") or [None] * len(dates))[d], (s.get("high") or [None] * len(dates))[d]],
            })  # fmt: skip
    rows.sort(key=lambda r: r["date"])
    config = {
        "type": "line",
        "data": {"labels": dates, "datasets": datasets},
        "options": {
            "interaction": {"mode": "index", "intersect": False},
            "scales": {
                "y": {
                    "title": {"display": True, "text": "Conversion rate, cumulative (%)"},
                    "beginAtZero": True,
                },
                "x": {"title": {"display": True, "text": "Day"}},
            },  # fmt: skip
        },
    }
    return config, rows


def exposures_per_day(results: dict) -> tuple[dict, list[dict]]:
    """New exposures per day per arm (bars), and the table: one row per day."""
    dates, per_arm = _series(results)
    names = _labels(results)
    exits = arm_names(results)
    counts = {e: (per_arm.get(e) or {}).get("exposures") or [0] * len(dates) for e in exits}
    datasets = [{"label": names[e], "data": counts[e], "backgroundColor": COLOURS[i % len(COLOURS)]}
                for i, e in enumerate(exits)]  # fmt: skip
    rows = [{"date": day, "counts": [counts[e][d] for e in exits]} for d, day in enumerate(dates)]
    config = {
        "type": "bar",
        "data": {"labels": dates, "datasets": datasets},
        "options": {
            "scales": {"y": {"beginAtZero": True, "title": {"display": True, "text": "Contacts exposed"}}}
        },
    }
    return config, rows


def guardrails(results: dict) -> tuple[dict, list[dict]]:
    """Each guardrail metric's rate per arm (grouped bars: the control's and each variant's), and
    the table: one row per metric with the rate in each arm and its status."""
    exits = arm_names(results)
    names = _labels(results)
    control = results.get("control")
    metrics: dict[str, dict] = {}
    for g in results.get("guardrails") or []:
        m = metrics.setdefault(g["metric"], {"label": g.get("label") or g["metric"], "watched": g.get("watched"),
                                             "threshold": g.get("threshold"), "rates": {}, "rows": []})  # fmt: skip
        m["rates"][control] = g.get("control_rate")
        m["rates"][g["exit"]] = g.get("rate")
        m["rows"].append(g)
    datasets = [{"label": names[e], "data": [_pct(m["rates"].get(e)) for m in metrics.values()],
                 "backgroundColor": COLOURS[i % len(COLOURS)]} for i, e in enumerate(exits)]  # fmt: skip
    config = {
        "type": "bar",
        "data": {"labels": [m["label"] for m in metrics.values()], "datasets": datasets},
        "options": {"scales": {"y": {"beginAtZero": True, "title": {"display": True, "text": "Rate (%)"}}}},
    }
    order = {"breached": 2, "watch": 1, "ok": 0}
    rows = []
    for m in metrics.values():
        worst = max((g.get("status", "ok") for g in m["rows"]), key=lambda st: order.get(st, 0), default="ok")
        rows.append({"label": m["label"], "watched": bool(m["watched"]), "threshold": m["threshold"],
                     "status": worst if m["watched"] else "not watched", "breached": worst == "breached",
                     "rates": [m["rates"].get(e) for e in exits],
                     "differences": [(names[g["exit"]], g.get("difference"), g.get("low"), g.get("high"))
                                     for g in m["rows"]]})  # fmt: skip
    return config, rows


def tables(results: dict) -> list:
    """Each chart's table as a `cpaas.charts.Chart` (its CSV download, `?format=csv&chart=<id>`):
    rates as fractions and counts as they are, so a spreadsheet can compute with them."""
    from cpaas.charts import Chart

    names = _labels(results)
    arms = [names[e] for e in arm_names(results)]
    _, rate_rows = cumulative_rate(results)
    _, exposure_rows = exposures_per_day(results)
    _, guardrail_rows = guardrails(results)
    return [
        Chart("chart-rate", "Cumulative conversion rate",
              ["Day", "Arm", "Exposed", "Converted", "Rate", "Interval low", "Interval high"],
              [[r["date"], r["arm"], r["exposures"], r["conversions"], r["rate"], *(r["interval"] or [None, None])]
               for r in rate_rows]),
        Chart("chart-exposures", "Exposures per day", ["Day", *arms],
              [[r["date"], *r["counts"]] for r in exposure_rows]),
        Chart("chart-guardrails", "Guardrails", ["Guardrail", *arms, "Status"],
              [[g["label"], *g["rates"], g["status"]] for g in guardrail_rows]),
    ]  # fmt: skip
