"""The supervisor page (`inbox.supervise`): the inbox's figures as charts, each with its table,
refreshed every 30 s by htmx (static/js/charts.js redraws swapped charts); `?format=csv&chart=<id>`
is that chart's table as CSV."""

from django.template.response import TemplateResponse
from django.utils import timezone

from cpaas.charts import chart_csv, wants_csv, with_csv_urls
from cpaas.tenancy import workspace_required

from .supervisor import PERIODS, supervisor_figures


@workspace_required("inbox.supervise")
def supervisor(request):
    try:
        days = int(request.GET.get("days", 7))
    except ValueError:
        days = 7
    days = days if days in PERIODS else 7
    context = supervisor_figures(workspace=request.workspace, now=timezone.now(), days=days)
    if wants_csv(request):  # a chart's table as CSV (cpaas.charts)
        return chart_csv(request, [chart.as_table() for chart in context["charts"]], "supervisor")
    with_csv_urls(request, context["charts"])
    context["periods"] = PERIODS
    template = "inbox/supervisor.html#figures" if request.htmx else "inbox/supervisor.html"
    return TemplateResponse(request, template, context)
