"""Journeys API: one view per resource under /api/v1/; parse with a serializer, call a service
or selector, render. Every query is scoped to `request.workspace` (another workspace: 404)."""

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.models import Contact, Segment
from contacts.validation import normalize_phone
from cpaas.api.common import ErrorDetailSerializer
from cpaas.api.common import body as _body
from cpaas.api.common import error_responses as _errors
from cpaas.api.pagination import Pagination
from cpaas.tenancy import Actor

from .. import selectors, services
from ..models import AudienceRun, Enrollment, Journey
from ..nodes import catalogue
from ..templates_catalogue import TEMPLATES
from ..validation import GRAPH_SCHEMA, validate_graph
from .serializers import (
    CancelInputSerializer,
    CountersOutputSerializer,
    DraftInputSerializer,
    DraftOutputSerializer,
    EnrollmentDetailSerializer,
    EnrollmentOutputSerializer,
    JourneyDetailOutputSerializer,
    JourneyInputSerializer,
    JourneyOutputSerializer,
    ProblemSerializer,
    PublishInputSerializer,
    RunOutputSerializer,
    StartInputSerializer,
    StatusInputSerializer,
    VersionOutputSerializer,
)

VIEW, EDIT, PUBLISH = "journeys.view", "journeys.edit", "journeys.publish"


class PublishRefusedSerializer(serializers.Serializer):
    """The one error body; a graph with problems (code invalid_graph) lists them in `problems`.
    Other refusals (nothing to publish, an archived journey, a bad body) have no `problems`."""

    error = ErrorDetailSerializer()
    problems = ProblemSerializer(many=True, required=False, help_text="Only when code is invalid_graph.")


def _journey(request, pk) -> Journey:
    try:
        return selectors.journey_get(workspace=request.workspace, pk=pk)
    except Journey.DoesNotExist:
        raise exceptions.NotFound(f"Journey {pk} not found in this workspace.") from None


def _enrollment(request, pk) -> Enrollment:
    try:
        return selectors.enrollment_get(workspace=request.workspace, pk=pk)
    except Enrollment.DoesNotExist:
        raise exceptions.NotFound(f"Enrolment {pk} not found in this workspace.") from None


class JourneyListApi(APIView):
    required_permission = (VIEW, EDIT)
    pagination_class = Pagination

    @extend_schema(
        operation_id="journeys_list",
        summary="List journeys",
        responses={200: JourneyOutputSerializer(many=True), **_errors(401, 403)},
    )
    def get(self, request):
        qs = selectors.journey_list(
            workspace=request.workspace, status=request.query_params.get("status", "")
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(JourneyOutputSerializer(page, many=True).data)

    @extend_schema(operation_id="journeys_create", summary="Create a journey (blank, from a graph or from a template)",
                   request=JourneyInputSerializer, responses={201: JourneyDetailOutputSerializer, **_errors(400, 401, 403)})  # fmt: skip
    def post(self, request):
        data = _body(JourneyInputSerializer, request)
        actor = Actor.from_request(request)
        if data.get("template"):
            journey = services.journey_from_template(
                workspace=request.workspace, actor=actor, key=data["template"], name=data.get("name", "")
            )
        else:
            journey = services.journey_create(workspace=request.workspace, actor=actor, name=data.get("name", ""),
                                              description=data.get("description", ""), graph=data.get("graph"),
                                              rules=dict(data.get("rules") or {}), purpose=data.get("purpose", ""))  # fmt: skip
        return Response(JourneyDetailOutputSerializer(journey).data, status=status.HTTP_201_CREATED)


class JourneyDetailApi(APIView):
    required_permission = (VIEW, EDIT)

    @extend_schema(
        operation_id="journeys_read",
        summary="A journey",
        responses={200: JourneyDetailOutputSerializer, **_errors(401, 403, 404)},
    )
    def get(self, request, journey_id):
        return Response(JourneyDetailOutputSerializer(_journey(request, journey_id)).data)

    @extend_schema(operation_id="journeys_update", summary="Rename, describe, change entry rules",
                   request=JourneyInputSerializer, responses={200: JourneyDetailOutputSerializer, **_errors(400, 401, 403, 404)})  # fmt: skip
    def patch(self, request, journey_id):
        journey = _journey(request, journey_id)
        data = _body(JourneyInputSerializer, request)
        if "graph" in data or "template" in data:
            raise ValidationError({"graph": ["Change the graph through /draft/."]})
        changes = {k: data[k] for k in ("name", "description", "purpose") if k in data} | dict(
            data.get("rules") or {}
        )
        journey = services.journey_update(journey=journey, actor=Actor.from_request(request), data=changes)
        return Response(JourneyDetailOutputSerializer(journey).data)

    @extend_schema(operation_id="journeys_archive", summary="Archive a journey (open enrolments are cancelled)",
                   responses={204: None, **_errors(400, 401, 403, 404)})  # fmt: skip
    def delete(self, request, journey_id):
        services.journey_archive(journey=_journey(request, journey_id), actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class JourneyDraftApi(APIView):
    required_permission = (VIEW, EDIT)

    @extend_schema(operation_id="journeys_draft_read", summary="The draft graph and its problems",
                   responses={200: DraftOutputSerializer, **_errors(401, 403, 404)})  # fmt: skip
    def get(self, request, journey_id):
        journey = _journey(request, journey_id)
        draft = services.draft_for(journey)
        return Response({"graph": draft.graph, "updated_at": draft.updated_at,
                         "problems": validate_graph(draft.graph, workspace=request.workspace)})  # fmt: skip

    @extend_schema(operation_id="journeys_draft_replace", summary="Replace the draft graph (work in progress is kept; problems are listed)",
                   request=DraftInputSerializer, responses={200: DraftOutputSerializer, **_errors(400, 401, 403, 404)})  # fmt: skip
    def put(self, request, journey_id):
        journey = _journey(request, journey_id)
        data = _body(DraftInputSerializer, request)
        draft, problems = services.draft_save(
            journey=journey, actor=Actor.from_request(request), graph=data["graph"]
        )
        return Response({"graph": draft.graph, "updated_at": draft.updated_at, "problems": problems})


class JourneyPublishApi(APIView):
    required_permission = (PUBLISH, PUBLISH)

    @extend_schema(operation_id="journeys_publish", summary="Publish the draft (refused with the list of problems)",
                   request=PublishInputSerializer,
                   responses={201: VersionOutputSerializer, 400: PublishRefusedSerializer, **_errors(401, 403, 404)})  # fmt: skip
    def post(self, request, journey_id):
        journey = _journey(request, journey_id)
        data = _body(PublishInputSerializer, request)
        try:
            version = services.journey_publish(
                journey=journey, actor=Actor.from_request(request), note=data.get("note", "")
            )
        except services.JourneyInvalid as exc:
            body = {"error": {"code": "invalid_graph", "message": exc.summary}, "problems": exc.problems}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response(VersionOutputSerializer(version).data, status=status.HTTP_201_CREATED)


class JourneyStatusApi(APIView):
    required_permission = (PUBLISH, PUBLISH)

    @extend_schema(operation_id="journeys_status", summary="Pause, resume or archive",
                   request=StatusInputSerializer, responses={200: JourneyDetailOutputSerializer, **_errors(400, 401, 403, 404)})  # fmt: skip
    def post(self, request, journey_id):
        journey = _journey(request, journey_id)
        action = _body(StatusInputSerializer, request)["action"]
        fn = {
            "pause": services.journey_pause,
            "resume": services.journey_resume,
            "archive": services.journey_archive,
        }[action]
        return Response(
            JourneyDetailOutputSerializer(fn(journey=journey, actor=Actor.from_request(request))).data
        )


class JourneyVersionListApi(APIView):
    required_permission = (VIEW, EDIT)

    @extend_schema(operation_id="journeys_versions", summary="Published versions, newest first",
                   responses={200: VersionOutputSerializer(many=True), **_errors(401, 403, 404)})  # fmt: skip
    def get(self, request, journey_id):
        journey = _journey(request, journey_id)
        versions = (
            journey.versions.filter(published_at__isnull=False, is_test=False)
            .select_related("author")
            .order_by("-number")
        )
        return Response(VersionOutputSerializer(versions, many=True).data)


def _resolve_contacts(request, refs: list[dict], create: bool) -> list[int]:
    from contacts.services import contact_create

    ws = request.workspace
    ids, errors = [], {}
    for i, ref in enumerate(refs):
        if len(ref) != 1:
            errors[f"contacts[{i}]"] = ["Name the contact by exactly one of id, external_id, phone."]
            continue
        ((kind, value),) = ref.items()
        if kind == "id":
            found = Contact.objects.filter(workspace=ws, pk=value).values_list("pk", flat=True).first()
        elif kind == "external_id":
            found = (
                Contact.objects.filter(workspace=ws, external_id=value).values_list("pk", flat=True).first()
            )
        else:
            try:
                value = normalize_phone(value, ws.default_country)
            except ValueError as exc:
                errors[f"contacts[{i}].phone"] = [str(exc)]
                continue
            found = Contact.objects.filter(workspace=ws, phone=value).values_list("pk", flat=True).first()
        if found is None and create and kind != "id":
            found = contact_create(workspace=ws, actor=Actor.from_request(request), data={kind: value}).pk
        if found is None:
            errors[f"contacts[{i}].{kind}"] = [
                f"No contact with {kind} {value} in this workspace (create_missing creates it)."
            ]
            continue
        ids.append(found)
    if errors:
        raise ValidationError(errors)
    return ids


class JourneyStartApi(APIView):
    required_permission = (PUBLISH, PUBLISH)

    @extend_schema(operation_id="journeys_start", summary="Start contacts or a segment in a live journey (enrolled in batches)",
                   request=StartInputSerializer, responses={202: RunOutputSerializer, **_errors(400, 401, 403, 404)})  # fmt: skip
    def post(self, request, journey_id):
        from django.db import transaction

        journey = _journey(request, journey_id)
        data = _body(StartInputSerializer, request)
        segment = None
        with transaction.atomic():
            if "segment" in data:
                segment = Segment.objects.filter(workspace=request.workspace, pk=data["segment"]).first()
                if segment is None:
                    raise ValidationError(
                        {"segment": [f"Segment {data['segment']} not found in this workspace."]}
                    )
            if "contact" in data:
                if "contacts" in data or "segment" in data:
                    raise ValidationError({"contact": ["Give one of contact, contacts or segment."]})
                [contact_id] = _resolve_contacts(request, [data["contact"]], data["create_missing"])
                contact = Contact.objects.get(workspace=request.workspace, pk=contact_id)
                run = services.journey_start_contact(journey=journey, actor=Actor.from_request(request),
                                                     contact=contact)  # fmt: skip
                return Response(RunOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED)
            ids = (
                _resolve_contacts(request, data["contacts"], data["create_missing"])
                if "contacts" in data
                else None
            )
            run = services.journey_start(journey=journey, actor=Actor.from_request(request), contact_ids=ids, segment=segment,
                                         idempotency_key=data.get("idempotency_key", ""))  # fmt: skip
        return Response(RunOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class JourneyRunApi(APIView):
    required_permission = (VIEW, EDIT)

    @extend_schema(
        operation_id="journeys_run",
        summary="Progress of a start (audience run)",
        responses={200: RunOutputSerializer, **_errors(401, 403, 404)},
    )
    def get(self, request, journey_id, run_id):
        journey = _journey(request, journey_id)
        run = AudienceRun.objects.filter(workspace=request.workspace, journey=journey, pk=run_id).first()
        if run is None:
            raise exceptions.NotFound(f"Run {run_id} not found.")
        return Response(RunOutputSerializer(run).data)


class JourneyCountersApi(APIView):
    required_permission = (VIEW, EDIT)

    @extend_schema(operation_id="journeys_counters", summary="Totals, messages by status and per-node counters for the canvas",
                   responses={200: CountersOutputSerializer, **_errors(401, 403, 404)})  # fmt: skip
    def get(self, request, journey_id):
        journey = _journey(request, journey_id)
        ws = request.workspace
        return Response({"totals": selectors.journey_totals(workspace=ws, journey=journey),
                         "messages": selectors.journey_message_stats(workspace=ws, journey=journey),
                         "nodes": selectors.node_counters(workspace=ws, journey=journey)})  # fmt: skip


class JourneyEnrollmentListApi(APIView):
    required_permission = (VIEW, EDIT)
    pagination_class = Pagination

    @extend_schema(operation_id="journeys_enrollments", summary="Enrolments of a journey (filter: status, contact)",
                   responses={200: EnrollmentOutputSerializer(many=True), **_errors(401, 403, 404)})  # fmt: skip
    def get(self, request, journey_id):
        journey = _journey(request, journey_id)
        contact = None
        if request.query_params.get("contact"):
            contact = Contact.objects.filter(
                workspace=request.workspace, pk=request.query_params["contact"]
            ).first()
            if contact is None:
                raise ValidationError({"contact": ["No such contact in this workspace."]})
        qs = selectors.enrollment_list(workspace=request.workspace, journey=journey, contact=contact,
                                       status=request.query_params.get("status", ""))  # fmt: skip
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(EnrollmentOutputSerializer(page, many=True).data)


class EnrollmentDetailApi(APIView):
    required_permission = (VIEW, EDIT)

    @extend_schema(operation_id="enrollments_read", summary="An enrolment with its step history",
                   responses={200: EnrollmentDetailSerializer, **_errors(401, 403, 404)})  # fmt: skip
    def get(self, request, enrollment_id):
        e = _enrollment(request, enrollment_id)
        e.step_list = list(selectors.enrollment_steps(workspace=request.workspace, enrollment=e))
        return Response(EnrollmentDetailSerializer(e).data)


class EnrollmentCancelApi(APIView):
    required_permission = (PUBLISH, PUBLISH)

    @extend_schema(operation_id="enrollments_cancel", summary="Cancel an enrolment (the contact leaves the journey)",
                   request=CancelInputSerializer, responses={200: EnrollmentOutputSerializer, **_errors(400, 401, 403, 404)})  # fmt: skip
    def post(self, request, enrollment_id):
        e = _enrollment(request, enrollment_id)
        data = _body(CancelInputSerializer, request)
        e = services.enrollment_cancel(
            enrollment=e, actor=Actor.from_request(request), reason=data.get("reason", "")
        )
        return Response(EnrollmentOutputSerializer(e).data)


class NodeCatalogueApi(APIView):
    required_permission = (VIEW, VIEW)

    @extend_schema(operation_id="journeys_node_types", summary="The node catalogue: types, config schemas, exits, forms, help",
                   responses={200: OpenApiTypes.OBJECT})  # fmt: skip
    def get(self, request):
        return Response({"graph_schema": GRAPH_SCHEMA, "nodes": catalogue(),
                         "templates": [{"key": k, "name": b()["name"], "description": b()["description"]} for k, b in TEMPLATES.items()]})  # fmt: skip
