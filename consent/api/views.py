"""Consent API under /api/v1/consent/: read and change a contact's consent (evidence required),
list consent events, simulate an inbound keyword, ask the send decision for many contacts,
the suppression list, and the GDPR export. Every query is scoped to `request.workspace`."""

from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts import selectors as contact_selectors
from contacts.models import ChannelKind, Contact
from cpaas import gdpr
from cpaas.api.common import error_responses as _errors
from cpaas.api.common import validated as _valid
from cpaas.api.pagination import Pagination
from cpaas.tenancy import Actor

from .. import selectors, services
from ..addresses import contact_hash
from ..models import Method, Status, Suppression
from ..services.decisions import InValues
from .serializers import (
    CheckInputSerializer,
    CheckOutputSerializer,
    ConsentChangeInputSerializer,
    ConsentChangeOutputSerializer,
    ConsentEventSerializer,
    ContactConsentSerializer,
    EventFilterSerializer,
    KeywordResultSerializer,
    KeywordSimulateInputSerializer,
    SuppressionFilterSerializer,
    SuppressionInputSerializer,
    SuppressionSerializer,
)

CONSENT_PERMS = ("consent.view", "consent.edit")

TAGS = ["consent"]
CONTACT_ID = OpenApiParameter(
    "contact_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Contact id."
)


def _channel_field(exc: ValidationError) -> ValidationError:
    """The services call the field channel_kind; the API calls it channel."""
    if hasattr(exc, "error_dict") and "channel_kind" in exc.error_dict:
        exc.error_dict["channel"] = exc.error_dict.pop("channel_kind")
    return exc


def _contact_or_404(request, contact_id) -> Contact:
    try:
        return contact_selectors.contact_get(workspace=request.workspace, pk=contact_id)
    except Contact.DoesNotExist:
        raise exceptions.NotFound(f"Contact {contact_id} not found in this workspace.") from None


def _contact_consent(request, contact) -> dict:
    records = selectors.contact_records(workspace=request.workspace, contact=contact)
    hashes = {kind: contact_hash(contact, kind) for kind in ChannelKind.values}
    entries = set(
        Suppression.objects.filter(
            workspace=request.workspace, address_hash__in=[h for h in hashes.values() if h]
        ).values_list("channel_kind", "address_hash")
    )
    suppressed = [k for k, h in hashes.items() if h and ((k, h) in entries or ("", h) in entries)]
    return {"contact_id": contact.pk, "records": records, "suppressed_channels": suppressed}


class ContactConsentApi(APIView):
    required_permission = CONSENT_PERMS

    @extend_schema(
        operation_id="consent_contact_retrieve",
        summary="A contact's consent records",
        tags=TAGS,
        parameters=[CONTACT_ID],
        responses={200: ContactConsentSerializer, **_errors(401, 403, 404, 429)},
    )
    def get(self, request, contact_id):
        contact = _contact_or_404(request, contact_id)
        return Response(ContactConsentSerializer(_contact_consent(request, contact)).data)

    @extend_schema(
        operation_id="consent_contact_change",
        summary="Record a change of consent (with evidence)",
        description="Appends a consent event and returns it with the contact's current record for that "
        "channel and purpose. A reason is always required; an opt-in also needs evidence of what the "
        "person agreed to (see `evidence`). An address on the suppression list cannot be opted in.",
        tags=TAGS,
        parameters=[CONTACT_ID],
        request=ConsentChangeInputSerializer,
        responses={201: ConsentChangeOutputSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    def post(self, request, contact_id):
        contact = _contact_or_404(request, contact_id)
        data = _valid(ConsentChangeInputSerializer, request.data)
        try:
            event, record = services.consent_change(
                contact=contact,
                channel_kind=data["channel"],
                purpose=data["purpose"],
                status=data["status"],
                method=data["method"],
                reason=data["reason"],
                evidence=data.get("evidence") or {},
                lawful_basis=data.get("lawful_basis", ""),
                sender_scope=data.get("sender_scope", ""),
                jurisdiction=data.get("jurisdiction", ""),
                occurred_at=data.get("occurred_at"),
                expires_at=data.get("expires_at"),
                actor=Actor.from_request(request),
                at=timezone.now(),
            )
        except ValidationError as exc:
            raise _channel_field(exc) from None
        return Response(
            ConsentChangeOutputSerializer({"event": event, "record": record}).data,
            status=status.HTTP_201_CREATED,
        )


class ConsentEventListApi(APIView):
    required_permission = CONSENT_PERMS
    pagination_class = Pagination

    @extend_schema(
        operation_id="consent_events_list",
        summary="Consent events (the audit trail), newest first",
        tags=TAGS,
        parameters=[EventFilterSerializer],
        responses={200: ConsentEventSerializer(many=True), **_errors(400, 401, 403, 429)},
    )
    def get(self, request):
        filters = _valid(EventFilterSerializer, request.query_params.dict())
        if "contact" in filters and not Contact.objects.filter(
            workspace=request.workspace, pk=filters["contact"]
        ):
            raise ValidationError({"contact": [f"Contact {filters['contact']} not found in this workspace."]})
        for name, allowed in (("method", Method.values), ("status", Status.values)):
            if name in filters and filters[name] not in allowed:
                raise ValidationError(
                    {name: [f"Unknown {name} '{filters[name]}'. Use one of: {', '.join(allowed)}."]}
                )
        events = selectors.event_list(workspace=request.workspace, filters=filters)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response(ConsentEventSerializer(page, many=True).data)


class KeywordSimulateApi(APIView):
    required_permission = CONSENT_PERMS

    @extend_schema(
        operation_id="consent_keyword_simulate",
        summary="Handle an inbound message as a keyword (STOP / START / HELP)",
        description="What the inbound pipeline does first with every message: matches the workspace's "
        "keywords, changes consent (unless dry_run) and returns the reply. `handled: false` means the "
        "text is not a keyword. The same inbound_message_id twice changes nothing the second time.",
        tags=TAGS,
        request=KeywordSimulateInputSerializer,
        responses={200: KeywordResultSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    def post(self, request):
        data = _valid(KeywordSimulateInputSerializer, request.data)
        contact = _contact_or_404(request, data["contact_id"])
        try:
            result = services.inbound_keyword(
                contact=contact,
                channel_kind=data["channel"],
                text=data["text"],
                language=data.get("language", ""),
                inbound_message_id=data.get("inbound_message_id", ""),
                at=data.get("at") or timezone.now(),
                dry_run=data["dry_run"],
            )
        except ValidationError as exc:
            raise _channel_field(exc) from None
        return Response(KeywordResultSerializer({**result.__dict__, "handled": result.handled}).data)


class CheckApi(APIView):
    required_permission = ("consent.view", "consent.view")  # asks, changes nothing

    @extend_schema(
        operation_id="consent_check",
        summary="May these messages be sent? (the send decision, nothing is sent)",
        description="For each contact: allow, deny or defer (with defer_until), the rule that decided and "
        "a reason. Rules in order: address, suppression, consent or lawful basis, WhatsApp 24-hour "
        "window (free-form only), quiet hours, frequency cap, vulnerability.",
        tags=TAGS,
        request=CheckInputSerializer,
        responses={200: CheckOutputSerializer, **_errors(400, 401, 403, 429)},
    )
    def post(self, request):
        data = _valid(CheckInputSerializer, request.data)
        ids = set(data["contact_ids"])
        contacts = list(Contact.objects.filter(InValues("id", sorted(ids)), workspace=request.workspace))
        missing = sorted(ids - {c.pk for c in contacts})
        if missing:
            raise ValidationError({"contact_ids": [f"Not found in this workspace: {missing[:20]}."]})
        for contact in contacts:
            contact.workspace = request.workspace
        try:
            decisions = services.check_many(
                contacts,
                data["channel"],
                data["purpose"],
                data.get("at") or timezone.now(),
                is_template=data["is_template"],
                sender=data["sender"],
                automated=data["automated"],
            )
        except ValidationError as exc:
            raise _channel_field(exc) from None
        out = [{"contact_id": pk, **decisions[pk].as_json()} for pk in data["contact_ids"] if pk in decisions]
        return Response(CheckOutputSerializer({"decisions": out}).data)


class SuppressionListApi(APIView):
    required_permission = CONSENT_PERMS
    pagination_class = Pagination

    @extend_schema(
        operation_id="consent_suppressions_list",
        summary="The suppression list (hashes; find an address by passing it in full)",
        tags=TAGS,
        parameters=[SuppressionFilterSerializer],
        responses={200: SuppressionSerializer(many=True), **_errors(400, 401, 403, 429)},
    )
    def get(self, request):
        filters = _valid(SuppressionFilterSerializer, request.query_params.dict())
        entries = selectors.suppression_list(
            workspace=request.workspace, q=filters.get("address", ""), channel=filters.get("channel", "")
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(SuppressionSerializer(page, many=True).data)

    @extend_schema(
        operation_id="consent_suppressions_create",
        summary="Put an address on the suppression list",
        tags=TAGS,
        request=SuppressionInputSerializer,
        responses={201: SuppressionSerializer, **_errors(400, 401, 403, 429)},
    )
    def post(self, request):
        data = _valid(SuppressionInputSerializer, request.data)
        try:
            entry = services.suppression_add(
                workspace=request.workspace,
                actor=Actor.from_request(request),
                channel_kind=data["channel"],
                address=data["address"],
                reason=data["reason"],
                note=data["note"],
                at=timezone.now(),
            )
        except ValidationError as exc:
            raise _channel_field(exc) from None
        return Response(SuppressionSerializer(entry).data, status=status.HTTP_201_CREATED)


class ContactExportApi(APIView):
    required_permission = ("gdpr.export", "gdpr.export")

    @extend_schema(
        operation_id="consent_contact_export",
        summary="GDPR export: everything held about the contact, from every app",
        tags=TAGS,
        parameters=[CONTACT_ID],
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT, description="{format, contact_id, exported_at, sections}"
            ),
            **_errors(401, 403, 404, 429),
        },
    )
    def get(self, request, contact_id):
        contact = _contact_or_404(request, contact_id)
        return Response(
            gdpr.contact_export(contact=contact, actor=Actor.from_request(request), at=timezone.now())
        )
