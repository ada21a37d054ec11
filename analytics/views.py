"""The journey analytics page, the KPI reports and the analytics settings (price table,
lifecycle stage rules). Thin: parse the period and filters, call one computation, render the
charts and tables (reports.py), or one of them as CSV (`?format=csv&chart=<id>`, cpaas.charts).

The home dashboard by role and messaging health: parse the period, read the numbers
(dashboard.py, health.py: rollups only), build the charts and answer `?format=csv&chart=<id>`
with that chart's table (cpaas.charts); htmx asks for the figures partial when a rollup refresh
says the numbers moved (data-refresh-on="analytics.changed")."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from cpaas.charts import chart_csv, wants_csv, with_csv_urls
from cpaas.roles import role_allows
from cpaas.tenancy import Actor, workspace_required
from journeys.models import Journey

from . import funnel, kpis, reports, services
from .charts import health_charts, home_charts
from .dashboard import PRESETS, dashboard
from .dashboard import period_parse as dashboard_period_parse
from .health import health
from .models import LifecycleRule, Price
from .periods import period_parse


def _period(request):
    try:
        return period_parse(workspace=request.workspace, first=request.GET.get("from"),
                            last=request.GET.get("to"), now=timezone.now()), {}  # fmt: skip
    except ValidationError as exc:
        return period_parse(
            workspace=request.workspace, first=None, last=None, now=timezone.now()
        ), exc.message_dict


def _charts_page(request, charts: list, tables: list, filename: str, template: str, context: dict):
    """The page, or `?format=csv&chart=<id>`: that chart's or table's rows as CSV."""
    if wants_csv(request):
        return chart_csv(request, [*charts, *tables], filename)
    if request.htmx and template == "analytics/journey.html":  # a live refresh: the figures only
        template += "#figures"
    return TemplateResponse(request, template, {**context, "charts": with_csv_urls(request, charts),
                                                "tables": with_csv_urls(request, tables)})  # fmt: skip


def _journey_ids(request, name: str) -> list[int] | None:
    values = [v for v in request.GET.getlist(name) if v]
    if not values:
        return None
    ids = [int(v) for v in values if v.isdigit()]
    return list(Journey.objects.filter(workspace=request.workspace, pk__in=ids).values_list("pk", flat=True))


@workspace_required("analytics.view")
def journey_analytics(request, pk):
    try:
        journey = Journey.objects.select_related("live_version").get(workspace=request.workspace, pk=pk)
    except Journey.DoesNotExist:
        raise Http404 from None
    period, errors = _period(request)
    data = funnel.journey_analytics(workspace=request.workspace, journey=journey, period=period)
    return _charts_page(request, reports.journey_charts(data), reports.journey_tables(data),
                        f"journey-{journey.pk}", "analytics/journey.html",
                        {"journey": journey, "data": data, "period": period, "errors": errors})  # fmt: skip


@workspace_required("analytics.view")
def kpi_report(request, kind):
    if kind not in reports.KPIS:
        raise Http404
    title, report_of = reports.KPIS[kind]
    period, errors = _period(request)
    try:
        window_h = kpis.window_h_parse(request.GET.get("window_h"))
    except ValidationError as exc:
        window_h, errors = None, {**errors, **exc.message_dict}
    params = {"journeys": _journey_ids(request, "journey"), "warmup": _journey_ids(request, "warmup"),
              "window_h": window_h}  # fmt: skip
    data = kpis.compute(kind, workspace=request.workspace, period=period, now=timezone.now(), params=params)
    chart, tables = report_of(data)
    return _charts_page(request, [chart], tables, kind, "analytics/kpi.html", {
        "kind": kind, "title": title, "kinds": [(k, v[0]) for k, v in reports.KPIS.items()], "data": data,
        "period": period, "errors": errors, "journeys": Journey.objects.filter(workspace=request.workspace),
        "selected": set(params["journeys"] or []),
        "warmup": set(data.get("warmup_journeys") or []), "window_h": data.get("window_h"),
    })  # fmt: skip


# --- settings -----------------------------------------------------------------------------------


@workspace_required("settings.view")
def settings_page(request):
    return TemplateResponse(request, "analytics/settings.html", {
        "section": "analytics", "prices": Price.objects.filter(workspace=request.workspace),
        "rules": LifecycleRule.objects.filter(workspace=request.workspace),
        "kinds": Price._meta.get_field("kind").choices, "stages": LifecycleRule.Stage.choices,
        "sources": LifecycleRule.Source.choices, "errors": {}, "values": {},
    })  # fmt: skip


@require_POST
@workspace_required("settings.view")
def settings_change(request):
    actor, ws, post = Actor.from_request(request), request.workspace, request.POST
    action = post.get("action", "")
    try:
        if action == "price_save":
            services.price_save(workspace=ws, actor=actor, data=post)
            messages.success(request, "Price saved.")
        elif action == "price_delete":
            services.price_delete(workspace=ws, actor=actor, pk=post.get("pk"))
            messages.success(request, "Price removed.")
        elif action == "rule_add":
            services.lifecycle_rule_add(workspace=ws, actor=actor, data=post)
            messages.success(request, "Stage rule added.")
        elif action == "rule_delete":
            services.lifecycle_rule_delete(workspace=ws, actor=actor, pk=post.get("pk"))
            messages.success(request, "Stage rule removed.")
        else:
            raise Http404
    except ValidationError as exc:
        response = settings_page(request)
        response.context_data.update(errors=exc.message_dict, values=post, form=action)
        response.status_code = 400
        return response
    return redirect("analytics_settings")


# --- home and messaging health -------------------------------------------------------------------


def _period_context(request, period, errors) -> dict:
    return {
        "period": period,
        "period_errors": errors,
        "presets": [(key, f"{n} days" if n > 1 else "Today") for key, n in PRESETS.items()],
        "preset": request.GET.get("range", "") if not request.GET.get("from") else "",
        "live": role_allows(request.role, "analytics.view"),
    }


@workspace_required()
def home(request):
    now = timezone.now()
    period, errors = dashboard_period_parse(request.workspace, request.GET, now)
    data = dashboard(
        workspace=request.workspace, period=period, now=now, user=request.user, role=request.role
    )
    charts = home_charts(request.workspace, data)
    if wants_csv(request):
        return chart_csv(request, charts, "dashboard")
    context = {**data, **_period_context(request, period, errors), "charts": with_csv_urls(request, charts),
               "nav": "home"}  # fmt: skip
    template = "analytics/home.html#figures" if request.htmx else "analytics/home.html"
    return TemplateResponse(request, template, context)


@workspace_required("analytics.view")
def health_page(request):
    period, errors = dashboard_period_parse(request.workspace, request.GET, timezone.now())
    data = health(workspace=request.workspace, period=period)
    charts = health_charts(data)
    if wants_csv(request):
        return chart_csv(request, charts, "messaging-health")
    context = {**data, **_period_context(request, period, errors), "charts": with_csv_urls(request, charts),
               "nav": "health"}  # fmt: skip
    template = "analytics/health.html#figures" if request.htmx else "analytics/health.html"
    return TemplateResponse(request, template, context)
