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
    return [a["name"] for a in results.get("arms") or []]


def cumulative_rate(results: dict) -> tuple[dict, list[dict]]:
    """Cumulative conversion rate per arm by day with its 95% interval as a band (two datasets, the
    upper one filled down to the lower one), and the table: one row per day and arm."""
    days = results.get("daily") or []
    labels = [d["date"] for d in days]
    datasets, rows = [], []
    for i, name in enumerate(arm_names(results)):
        colour = COLOURS[i % len(COLOURS)]
        points = [(d.get("arms") or {}).get(name) or {} for d in days]
        low = [_pct((p.get("interval") or [None, None])[0]) for p in points]
        high = [_pct((p.get("interval") or [None, None])[1]) for p in points]
        datasets += [
            {"label": f"{name}: 95% interval (low)", "data": low, "borderWidth": 0, "pointRadius": 0,
             "fill": False, "backgroundColor": _band(colour), "borderColor": _band(colour)},
            {"label": f"{name}: 95% interval", "data": high, "borderWidth": 0, "pointRadius": 0,
             "fill": "-1", "backgroundColor": _band(colour), "borderColor": _band(colour)},
            {"label": f"{name}: conversion rate", "data": [_pct(p.get("rate")) for p in points],
             "borderColor": colour, "backgroundColor": colour, "fill": False, "tension": 0, "pointRadius": 2},
        ]  # fmt: skip
        for day, p in zip(labels, points, strict=True):
            if p:
                rows.append({"date": day, "arm": name, "exposures": p.get("exposures", 0),
                             "conversions": p.get("conversions", 0), "rate": p.get("rate"),
                             "interval": p.get("interval")})  # fmt: skip
    config = {
        "type": "line",
        "data": {"labels": labels, "datasets": datasets},
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
    days = results.get("daily") or []
    labels = [d["date"] for d in days]
    names = arm_names(results)
    datasets = []
    for i, name in enumerate(names):
        datasets.append({
            "label": name,
            "data": [((d.get("arms") or {}).get(name) or {}).get("new_exposures", 0) for d in days],
            "backgroundColor": COLOURS[i % len(COLOURS)],
        })  # fmt: skip
    rows = [{"date": d["date"], "counts": [((d.get("arms") or {}).get(n) or {}).get("new_exposures", 0)
                                           for n in names]} for d in days]  # fmt: skip
    config = {
        "type": "bar",
        "data": {"labels": labels, "datasets": datasets},
        "options": {
            "scales": {"y": {"beginAtZero": True, "title": {"display": True, "text": "Contacts exposed"}}}
        },
    }
    return config, rows


def guardrails(results: dict) -> tuple[dict, list[dict]]:
    """Each guardrail's rate per arm (grouped bars), and the table: one row per guardrail."""
    names = arm_names(results)
    items = results.get("guardrails") or []
    datasets = []
    for i, name in enumerate(names):
        datasets.append({
            "label": name,
            "data": [_pct(((g.get("arms") or {}).get(name) or {}).get("rate")) for g in items],
            "backgroundColor": COLOURS[i % len(COLOURS)],
        })  # fmt: skip
    config = {
        "type": "bar",
        "data": {"labels": [g.get("label") or g.get("metric") for g in items], "datasets": datasets},
        "options": {"scales": {"y": {"beginAtZero": True, "title": {"display": True, "text": "Rate (%)"}}}},
    }
    rows = [{"label": g.get("label") or g.get("metric"), "status": g.get("status", ""),
             "breached": bool(g.get("breached")), "message": g.get("message", ""),
             "arms": [((g.get("arms") or {}).get(n) or {}) for n in names]} for g in items]  # fmt: skip
    return config, rows
