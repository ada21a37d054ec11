"""Experiments API: one view per operation under /api/v1/experiments/; parse, check permission,
call one service or selector, render. Every query is scoped to `request.workspace` (another
workspace's experiment: 404)."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from cpaas import csv_safe
from cpaas.api.common import body as _body
from cpaas.api.common import error_responses as _errors
from cpaas.api.pagination import Pagination
from cpaas.tenancy import Actor

from .. import results, selectors, services
from ..models import Experiment
from .serializers import (
    DecisionOutputSerializer,
    ExperimentInputSerializer,
    ExperimentOutputSerializer,
    ResultsOutputSerializer,
    StopInputSerializer,
    WinnerInputSerializer,
)

VIEW, EDIT = "experiments.view", "experiments.edit"


def _experiment(request, pk) -> Experiment:
    try:
        return selectors.experiment_get(workspace=request.workspace, pk=pk)
    except Experiment.DoesNotExist:
        raise exceptions.NotFound(f"Experiment {pk} not found in this workspace.") from None


class ExperimentListApi(APIView):
    required_permission = (VIEW, EDIT)
    pagination_class = Pagination

    @extend_schema(
        operation_id="experiments_list",
        summary="List experiments (one per A/B split node) across journeys",
        parameters=[
            OpenApiParameter("status", str, enum=Experiment.Status.values, required=False),
            OpenApiParameter("journey", int, required=False),
        ],
        responses={200: ExperimentOutputSerializer(many=True), **_errors(400, 401, 403)},
    )
    def get(self, request):
        journey = request.query_params.get("journey", "")
        if journey and not journey.isdigit():
            raise exceptions.ValidationError({"journey": ["A journey id (a whole number)."]})
        state = request.query_params.get("status", "")
        if state and state not in Experiment.Status.values:
            raise exceptions.ValidationError({"status": [f"One of: {', '.join(Experiment.Status.values)}."]})
        qs = selectors.experiment_list(workspace=request.workspace, status=state,
                                       journey_id=int(journey) if journey else None)  # fmt: skip
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ExperimentOutputSerializer(page, many=True).data)


class ExperimentDetailApi(APIView):
    required_permission = (VIEW, EDIT)

    @extend_schema(operation_id="experiments_read", summary="An experiment",
                   responses={200: ExperimentOutputSerializer, **_errors(401, 403, 404)})  # fmt: skip
    def get(self, request, experiment_id):
        return Response(ExperimentOutputSerializer(_experiment(request, experiment_id)).data)

    @extend_schema(operation_id="experiments_update", summary="Change an experiment's settings",
                   request=ExperimentInputSerializer,
                   responses={200: ExperimentOutputSerializer, **_errors(400, 401, 403, 404)})  # fmt: skip
    def patch(self, request, experiment_id):
        experiment = _experiment(request, experiment_id)
        data = _body(ExperimentInputSerializer, request)
        experiment = services.experiment_update(
            experiment=experiment, actor=Actor.from_request(request), data=data
        )
        return Response(ExperimentOutputSerializer(selectors.experiment_get(workspace=request.workspace,
                                                                           pk=experiment.pk)).data)  # fmt: skip


class ExperimentResultsApi(APIView):
    required_permission = (VIEW, EDIT)

    @extend_schema(
        operation_id="experiments_results",
        summary="The experiment's results (cached; ?refresh=1 computes them now)",
        parameters=[OpenApiParameter("refresh", bool, required=False)],
        responses={200: ResultsOutputSerializer, **_errors(401, 403, 404)},
    )
    def get(self, request, experiment_id):
        experiment = _experiment(request, experiment_id)
        if request.query_params.get("refresh") in ("1", "true") or experiment.results_computed_at is None:
            results.refresh(experiment)  # computed in SQL now, and cached for the pages
        return Response({"experiment": experiment.pk, "computed_at": experiment.results_computed_at,
                         "results": experiment.results or {}})  # fmt: skip


class ExperimentWinnerApi(APIView):
    required_permission = (EDIT, EDIT)

    @extend_schema(
        operation_id="experiments_declare_winner",
        summary="Declare the winner: from now on new contacts take its exit (no republishing)",
        request=WinnerInputSerializer,
        responses={200: DecisionOutputSerializer, **_errors(400, 401, 403, 404)},
    )
    def post(self, request, experiment_id):
        experiment = _experiment(request, experiment_id)
        data = _body(WinnerInputSerializer, request)
        decision = services.experiment_declare_winner(experiment=experiment, winner=data["winner"],
                                                      actor=Actor.from_request(request),
                                                      reason=data.get("reason", ""))  # fmt: skip
        return Response(DecisionOutputSerializer(decision).data)


class ExperimentStopApi(APIView):
    required_permission = (EDIT, EDIT)

    @extend_schema(
        operation_id="experiments_stop",
        summary="Stop without a winner: from now on new contacts take the control's exit",
        request=StopInputSerializer,
        responses={200: DecisionOutputSerializer, **_errors(400, 401, 403, 404)},
    )
    def post(self, request, experiment_id):
        experiment = _experiment(request, experiment_id)
        data = _body(StopInputSerializer, request)
        decision = services.experiment_stop(experiment=experiment, actor=Actor.from_request(request),
                                            reason=data.get("reason", ""))  # fmt: skip
        return Response(DecisionOutputSerializer(decision).data)


class ExperimentDecisionListApi(APIView):
    required_permission = (VIEW, EDIT)

    @extend_schema(operation_id="experiments_decisions", summary="The experiment's decisions, newest first",
                   responses={200: DecisionOutputSerializer(many=True), **_errors(401, 403, 404)})  # fmt: skip
    def get(self, request, experiment_id):
        experiment = _experiment(request, experiment_id)
        return Response(DecisionOutputSerializer(experiment.decisions.all(), many=True).data)


class ExperimentAssignmentsCsvApi(APIView):
    required_permission = (VIEW, VIEW)

    @extend_schema(
        operation_id="experiments_assignments_csv",
        summary="Per-contact assignments and goal conversions as CSV (streamed)",
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description=", ".join(selectors.EXPORT_HEADER)
            ),
            **_errors(401, 403, 404),
        },
    )
    def get(self, request, experiment_id):
        experiment = _experiment(request, experiment_id)
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        return csv_safe.csv_response(f"experiment-{experiment.pk}-assignments-{stamp}.csv", selectors.EXPORT_HEADER,
                                     selectors.assignment_rows(experiment=experiment))  # fmt: skip
