"""Analytics API: the journey funnel (`/api/v1/journeys/<id>/funnel/`) and the KPI reports
(`/api/v1/analytics/kpis/<kind>/`), the same dicts the pages render. Another workspace's journey
is 404; journey ids of another workspace in a filter are ignored. The home dashboard's numbers
and messaging health (`/api/v1/analytics/dashboard/`, `/health/`) are read from the rollups of the
request's workspace (a token of another workspace reads its own, empty ones); their period is
`from`/`to` (local dates) or `range`; a bad one is a 400 naming the field."""

from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from cpaas.api.common import error_responses as _errors
from cpaas.models import ApiToken
from cpaas.roles import role_allows
from journeys.models import Journey

from .. import funnel, kpis, reports
from ..dashboard import PRESETS, compliance, marketing, previous
from ..dashboard import period_parse as dashboard_period_parse
from ..health import health
from ..periods import period_parse
from .serializers import DashboardSerializer, HealthSerializer

VIEW = "analytics.view"
PERIOD = [
    OpenApiParameter("from", OpenApiTypes.DATE, required=False,
                     description="First day (YYYY-MM-DD, the workspace's time zone); default 29 days before `to`."),
    OpenApiParameter("to", OpenApiTypes.DATE, required=False, description="Last day, included; default today."),
]  # fmt: skip


def _period(request):
    try:
        return period_parse(workspace=request.workspace, first=request.query_params.get("from"),
                            last=request.query_params.get("to"), now=timezone.now())  # fmt: skip
    except ValidationError as exc:
        raise exceptions.ValidationError(exc.message_dict) from None


def _ids(request, name: str) -> list[int] | None:
    values = [v for v in request.query_params.getlist(name) if v]
    if not values:
        return None
    bad = [v for v in values if not v.isdigit()]
    if bad:
        raise exceptions.ValidationError({name: [f"'{bad[0]}' is not a journey id (a whole number)."]})
    return list(
        Journey.objects.filter(workspace=request.workspace, pk__in=[int(v) for v in values]).values_list(
            "pk", flat=True
        )
    )


class JourneyFunnelApi(APIView):
    required_permission = VIEW

    @extend_schema(
        operation_id="journeys_funnel",
        summary="A journey's analytics: funnel per node, reasons, conversion per version, messages, cost",
        description="Per node (graph order): entered, each exit's count and share of entered, waiting, failed, "
        "ended there, median seconds spent (over the period's enrolments); drop-off and failure reasons; "
        "goal conversion per day and version (cumulative rate); messages by channel, status and provider "
        "error code; cost from the workspace's price table and cost per conversion. docs/analytics.md.",
        parameters=PERIOD,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The journey's analytics."),
                   **_errors(400, 401, 403, 404)},
    )  # fmt: skip
    def get(self, request, journey_id):
        try:
            journey = Journey.objects.select_related("live_version").get(
                workspace=request.workspace, pk=journey_id
            )
        except Journey.DoesNotExist:
            raise exceptions.NotFound(f"Journey {journey_id} not found in this workspace.") from None
        period = _period(request)
        return Response(funnel.journey_analytics(workspace=request.workspace, journey=journey, period=period))


class KpiApi(APIView):
    required_permission = VIEW

    @extend_schema(
        operation_id="analytics_kpi",
        summary="One of the seeds' KPI reports",
        description="`promise-to-pay` (paid within 7 local days of the interactive message, promises kept and "
        "broken, amounts, by variant and channel), `call-warmup` (first-time pickup with and without a "
        "warm-up message), `otp` (verification rate, time to verify, fallback, share sent to support), "
        "`lifecycle` (contacts by stage, flows). Definitions: docs/analytics.md.",
        parameters=[
            OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=list(reports.KPIS)),
            *PERIOD,
            OpenApiParameter("journey", int, many=True, required=False,
                             description="promise-to-pay: only these journeys (default every one)."),
            OpenApiParameter("warmup", int, many=True, required=False,
                             description="call-warmup: the warm-up journeys (default those made from the template)."),
            OpenApiParameter("window_h", int, required=False,
                             description="call-warmup: hours before the call a warm-up counts (1-720, default 24)."),
        ],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The report."),
                   **_errors(400, 401, 403, 404)},
    )  # fmt: skip
    def get(self, request, kind):
        if kind not in reports.KPIS:
            raise exceptions.NotFound(f"No report '{kind}': one of {', '.join(reports.KPIS)}.")
        period = _period(request)
        try:
            window_h = kpis.window_h_parse(request.query_params.get("window_h"))
        except ValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None
        params = {
            "journeys": _ids(request, "journey"),
            "warmup": _ids(request, "warmup"),
            "window_h": window_h,
        }
        return Response(
            kpis.compute(kind, workspace=request.workspace, period=period, now=timezone.now(), params=params)
        )


PERIOD_PARAMETERS = [
    OpenApiParameter("from", str, required=False, description="First local day, YYYY-MM-DD (inclusive)."),
    OpenApiParameter("to", str, required=False, description="Last local day, YYYY-MM-DD (inclusive; default today)."),
    OpenApiParameter("range", str, enum=list(PRESETS), required=False, description="A preset instead of from/to (7d by default)."),
]  # fmt: skip


def _dashboard_period(request, now):
    period, errors = dashboard_period_parse(request.workspace, request.query_params, now)
    if errors:
        raise exceptions.ValidationError({k: [v] for k, v in errors.items()})
    return period


class DashboardApi(APIView):
    required_permission = "analytics.view"

    @extend_schema(
        operation_id="analytics_dashboard",
        summary="The home dashboard's numbers over a period, with the previous period",
        parameters=PERIOD_PARAMETERS,
        responses={200: DashboardSerializer, **_errors(400, 401, 403)},
    )
    def get(self, request):
        now = timezone.now()
        period = _dashboard_period(request, now)
        out = {
            "period": period,
            "previous": previous(request.workspace, period),
            "marketing": marketing(workspace=request.workspace, period=period, now=now),
        }
        if isinstance(request.auth, ApiToken) or role_allows(request._request.role, "consent.policies"):
            out["compliance"] = compliance(workspace=request.workspace, period=period)
        return Response(DashboardSerializer(out).data)


class HealthApi(APIView):
    required_permission = "analytics.view"

    @extend_schema(
        operation_id="analytics_health",
        summary="Messaging health: delivery rate, latency p50/p95, errors by code, opt-outs per journey",
        parameters=PERIOD_PARAMETERS,
        responses={200: HealthSerializer, **_errors(400, 401, 403)},
    )
    def get(self, request):
        period = _dashboard_period(request, timezone.now())
        return Response(HealthSerializer(health(workspace=request.workspace, period=period)).data)
