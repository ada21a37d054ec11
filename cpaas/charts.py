"""A chart as pages hold it: the Chart.js configuration (drawn by static/js/charts.js), the table
alternative with the same numbers, and its CSV download (through csv_safe, the one CSV writer).

A view builds `Chart`s and calls `chart_csv(request, charts, name)` first: when the request asks
`?format=csv&chart=<id>` it answers that chart's table as a CSV file (404 for an unknown chart),
otherwise None and the page renders. `templates/includes/chart_card.html` renders a chart with
its table and download link. Time labels are made on the server in the workspace's zone."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.utils import timezone

from . import csv_safe

# One colour per series, readable on white and for the common colour-vision deficiencies
# (Okabe–Ito), the palette the experiment charts use too.
COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


@dataclass
class Chart:
    """`columns` head the table (the first is the row label's); each row is [label, *values],
    and the chart draws one dataset per value column (bars, or lines with `kind="line"`), or only
    the columns whose indexes `plot` lists (the table keeps every column)."""

    id: str
    title: str
    columns: list[str]
    rows: list[list]
    kind: str = "bar"
    stacked: bool = False
    horizontal: bool = False
    y_title: str = ""
    csv_url: str = ""
    note: str = ""
    plot: list[int] | None = None

    @property
    def empty(self) -> bool:
        cols = self.plot or range(1, len(self.columns))
        return not any(isinstance(row[c], (int, float)) and row[c] for row in self.rows for c in cols)

    @property
    def config(self) -> dict:
        datasets = []
        drawn = self.plot or range(1, len(self.columns))
        for i, col in enumerate(drawn):
            column = self.columns[col]
            colour = COLOURS[i % len(COLOURS)]
            data = [row[col] if isinstance(row[col], (int, float)) else None for row in self.rows]
            ds = {"label": column, "data": data, "backgroundColor": colour, "borderColor": colour}
            if self.kind == "line":
                ds.update({"fill": False, "tension": 0, "pointRadius": 2})
            datasets.append(ds)
        scale = {"stacked": self.stacked, "beginAtZero": True}
        value_axis = {**scale, "title": {"display": bool(self.y_title), "text": self.y_title}}
        options = {
            "interaction": {"mode": "index", "intersect": False},
            "plugins": {"legend": {"position": "bottom"}},
            "scales": {"x": dict(scale), "y": value_axis}
            if not self.horizontal
            else {"x": value_axis, "y": dict(scale)},
        }
        if self.horizontal:
            options["indexAxis"] = "y"
        return {
            "type": self.kind,
            "data": {"labels": [str(row[0]) for row in self.rows], "datasets": datasets},
            "options": options,
        }


def csv_url(request: HttpRequest, chart_id: str) -> str:
    params = {k: v for k, v in request.GET.items() if k not in ("format", "chart")}
    return f"{request.path}?{urlencode({**params, 'format': 'csv', 'chart': chart_id})}"


def with_csv_urls(request: HttpRequest, charts: Iterable[Chart]) -> list[Chart]:
    charts = list(charts)
    for chart in charts:
        chart.csv_url = csv_url(request, chart.id)
    return charts


def wants_csv(request: HttpRequest) -> bool:
    return request.GET.get("format") == "csv"


def chart_csv(request: HttpRequest, charts: Iterable[Chart], name: str) -> StreamingHttpResponse | None:
    """The CSV of the chart `?chart=` names when `?format=csv`, else None."""
    if not wants_csv(request):
        return None
    wanted = request.GET.get("chart", "")
    for chart in charts:
        if chart.id == wanted:
            stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
            return csv_safe.csv_response(f"{name}-{chart.id}-{stamp}.csv", chart.columns, chart.rows)
    raise Http404(f"No chart {wanted!r} on this page.")
