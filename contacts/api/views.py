"""Contacts and events API: one view per resource, nested under /api/v1/. Views parse input
with a serializer, call a service or selector, and render an output serializer; every query
is scoped to `request.workspace` (the token's workspace, or the session user's active one), so
another workspace's object is simply not found (404)."""

from collections import Counter

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts import selectors, services
from contacts.models import Contact, Event, Segment
from contacts.upserts import MAX_CONTACTS, ContactsRejected, contacts_upsert_many
from contacts.validation import normalize_phone
from cpaas.api.common import (
    IDEMPOTENCY_KEY_HEADER,
    TooManyItems,
    error_responses,
    idempotency_key_merged,
    validated_each,
)
from cpaas.api.common import body as _body
from cpaas.api.common import page as _page
from cpaas.api.common import query as _query
from cpaas.api.pagination import Pagination
from cpaas.api.permissions import ContactBrowsing, WorkspaceMember
from cpaas.tenancy import Actor

from .ingest import MAX_BATCH, EventsRejected, engine_lag_s, events_ingest
from .serializers import (
    ContactBatchInputSerializer,
    ContactBatchOutputSerializer,
    ContactFilterSerializer,
    ContactInputSerializer,
    ContactOutputSerializer,
    EventBatchInputSerializer,
    EventBatchOutputSerializer,
    EventFilterSerializer,
    EventInputSerializer,
    EventOutputSerializer,
    event_fast_checked,
)

CONTACTS_PERMS = ("contacts.view", "contacts.edit")
EVENTS_PERMS = ("events.view", "contacts.edit")


def _errors(*codes: int) -> dict:
    return error_responses(*codes, conflict="Idempotency key already used for a different event.")


READ_ERRORS = _errors(401, 403, 429)
CONTACT_ID = OpenApiParameter(
    "contact_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Contact id."
)
EXTERNAL_ID = OpenApiParameter(
    "external_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="Your id for the contact."
)


def _contact_or_404(request, contact_id) -> Contact:
    try:
        return selectors.contact_get(workspace=request.workspace, pk=contact_id)
    except Contact.DoesNotExist:
        raise exceptions.NotFound(f"Contact {contact_id} not found in this workspace.") from None


def _contact_out(contact: Contact, status_code=status.HTTP_200_OK) -> Response:
    return Response(ContactOutputSerializer(contact).data, status=status_code)


# --- contacts -------------------------------------------------------------------------------


class ContactListCreateApi(APIView):
    permission_classes = [WorkspaceMember, ContactBrowsing]  # agents: through the inbox
    required_permission = CONTACTS_PERMS
    pagination_class = Pagination

    @extend_schema(
        operation_id="contacts_list",
        summary="List contacts",
        parameters=[ContactFilterSerializer],
        responses={200: ContactOutputSerializer(many=True), **_errors(400, 401, 403, 429)},
    )
    def get(self, request):
        filters = _query(ContactFilterSerializer, request)
        workspace = request.workspace
        if "segment" in filters and not Segment.objects.filter(workspace=workspace, pk=filters["segment"]):
            raise ValidationError({"segment": [f"Segment {filters['segment']} not found in this workspace."]})
        vulnerable = filters.get("vulnerable")
        qs = selectors.contact_list(
            workspace=workspace,
            filters={
                **{k: filters[k] for k in ("q", "tag", "segment", "language", "channel") if k in filters},
                "vulnerable": {True: "yes", False: "no"}.get(vulnerable, ""),
            },
        )
        if "external_id" in filters:
            qs = qs.filter(external_id=filters["external_id"])
        if "phone" in filters:
            try:
                qs = qs.filter(phone=normalize_phone(filters["phone"], workspace.default_country))
            except ValueError as exc:
                raise ValidationError({"phone": [str(exc)]}) from None
        if "updated_since" in filters:
            qs = qs.filter(updated_at__gte=filters["updated_since"])
        return _page(request, self, qs.prefetch_related("tags"), ContactOutputSerializer)

    @extend_schema(
        operation_id="contacts_create",
        summary="Create a contact",
        request=ContactInputSerializer,
        responses={201: ContactOutputSerializer, **_errors(400, 401, 403, 429)},
    )
    def post(self, request):
        data = _body(ContactInputSerializer, request)
        contact = services.contact_create(
            workspace=request.workspace, actor=Actor.from_request(request), data=data
        )
        return _contact_out(contact, status.HTTP_201_CREATED)


class ContactBatchApi(APIView):
    required_permission = CONTACTS_PERMS

    @extend_schema(
        operation_id="contacts_batch_upsert",
        summary=f"Create or update up to {MAX_CONTACTS:,} contacts at once",
        description="Each contact is found by its external_id (or, without one, its phone) and "
        "created or updated with the same rules as a single write. all_or_nothing (default true): "
        "any invalid contact and nothing is written, the 400 names each by position "
        "(`contacts[3].phone`); false: the valid ones are written and the invalid ones reported "
        "per item. 413 over the limit.",
        request=ContactBatchInputSerializer,
        responses={200: ContactBatchOutputSerializer, **_errors(400, 401, 403, 413, 429)},
    )
    def post(self, request):
        body = request.data
        if not isinstance(body, dict) or not isinstance(body.get("contacts"), list):
            raise ValidationError({"contacts": ['Send {"contacts": [...]}, a list of contacts.']})
        unknown = sorted(set(body) - {"contacts", "all_or_nothing"})
        if unknown:
            raise ValidationError(
                {key: ["Unknown field (known fields: contacts, all_or_nothing)."] for key in unknown}
            )
        given = body["contacts"]
        if len(given) > MAX_CONTACTS:
            raise TooManyItems(field="contacts", limit=MAX_CONTACTS, given=len(given))
        if not given:
            raise ValidationError({"contacts": ["Give at least one contact."]})
        flag = body.get("all_or_nothing", True)
        if not isinstance(flag, bool):
            raise ValidationError({"all_or_nothing": ["Must be true or false."]})
        items, errors = validated_each(ContactInputSerializer, given)
        try:
            outcomes = contacts_upsert_many(
                workspace=request.workspace,
                actor=Actor.from_request(request),
                items=items,
                errors=errors,
                all_or_nothing=flag,
            )
        except ContactsRejected as exc:
            raise exc.as_validation_error() from None
        counts = Counter(o.status for o in outcomes)
        results = []
        for o in outcomes:
            row = {"index": o.index, "status": o.status, "contact_id": o.contact.pk if o.contact else None}
            if o.errors:
                row["errors"] = o.errors
            results.append(row)
        out = {k: counts.get(k, 0) for k in ("created", "updated", "unchanged", "invalid")}
        # plain data in the documented shape (ContactBatchOutputSerializer): a serializer's
        # per-field copy of 10,000 results cost more than writing them
        return Response({**out, "results": results})


class ContactDetailApi(APIView):
    permission_classes = [WorkspaceMember, ContactBrowsing]  # agents: through the inbox
    required_permission = CONTACTS_PERMS

    @extend_schema(
        operation_id="contacts_retrieve",
        summary="Get a contact",
        parameters=[CONTACT_ID],
        responses={200: ContactOutputSerializer, **_errors(401, 403, 404, 429)},
    )
    def get(self, request, contact_id):
        return _contact_out(_contact_or_404(request, contact_id))

    @extend_schema(
        operation_id="contacts_update",
        summary="Update a contact (only the fields sent)",
        parameters=[CONTACT_ID],
        request=ContactInputSerializer,
        responses={200: ContactOutputSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    def patch(self, request, contact_id):
        contact = _contact_or_404(request, contact_id)
        data = _body(ContactInputSerializer, request)
        contact = services.contact_update(contact=contact, actor=Actor.from_request(request), data=data)
        return _contact_out(contact)

    @extend_schema(
        operation_id="contacts_destroy",
        summary="Delete a contact and its events",
        parameters=[CONTACT_ID],
        responses={204: OpenApiResponse(description="Deleted."), **_errors(401, 403, 404, 429)},
    )
    def delete(self, request, contact_id):
        contact = _contact_or_404(request, contact_id)
        services.contact_delete(contact=contact, actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContactByExternalIdApi(APIView):
    permission_classes = [WorkspaceMember, ContactBrowsing]  # agents: through the inbox
    required_permission = CONTACTS_PERMS

    @extend_schema(
        operation_id="contacts_by_external_id_retrieve",
        summary="Get a contact by your external id",
        parameters=[EXTERNAL_ID],
        responses={200: ContactOutputSerializer, **_errors(401, 403, 404, 429)},
    )
    def get(self, request, external_id):
        contact = Contact.objects.filter(workspace=request.workspace, external_id=external_id).first()
        if contact is None:
            raise exceptions.NotFound(f"No contact with external id '{external_id}' in this workspace.")
        return _contact_out(contact)

    @extend_schema(
        operation_id="contacts_upsert",
        summary="Create or update the contact with this external id",
        description="201 when the contact was created, 200 when it existed and was updated. On update "
        "only the fields sent change.",
        parameters=[EXTERNAL_ID],
        request=ContactInputSerializer,
        responses={
            200: ContactOutputSerializer,
            201: ContactOutputSerializer,
            **_errors(400, 401, 403, 429),
        },
    )
    def put(self, request, external_id):
        data = _body(ContactInputSerializer, request)
        if data.get("external_id") not in (None, external_id):
            raise ValidationError(
                {"external_id": ["Leave it out or make it match the external id in the URL."]}
            )
        data.pop("external_id", None)
        contact, created = services.contact_upsert(
            workspace=request.workspace, actor=Actor.from_request(request), external_id=external_id, data=data
        )
        return _contact_out(contact, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ContactEventListApi(APIView):
    permission_classes = [WorkspaceMember, ContactBrowsing]  # agents: through the inbox
    required_permission = EVENTS_PERMS
    pagination_class = Pagination

    @extend_schema(
        operation_id="contacts_events_list",
        summary="A contact's events, newest first",
        parameters=[CONTACT_ID],
        responses={200: EventOutputSerializer(many=True), **_errors(401, 403, 404, 429)},
    )
    def get(self, request, contact_id):
        contact = _contact_or_404(request, contact_id)
        events = selectors.contact_events(workspace=request.workspace, contact=contact)
        return _page(request, self, events, EventOutputSerializer)


# --- events ---------------------------------------------------------------------------------


class EventListCreateApi(APIView):
    required_permission = EVENTS_PERMS
    pagination_class = Pagination

    @extend_schema(
        operation_id="events_list",
        summary="List events, newest first",
        parameters=[EventFilterSerializer],
        responses={200: EventOutputSerializer(many=True), **_errors(400, 401, 403, 429)},
    )
    def get(self, request):
        filters = _query(EventFilterSerializer, request)
        qs = Event.objects.filter(workspace=request.workspace).order_by("-occurred_at", "-id")
        if "contact" in filters:
            if not Contact.objects.filter(workspace=request.workspace, pk=filters["contact"]).exists():
                raise ValidationError(
                    {"contact": [f"Contact {filters['contact']} not found in this workspace."]}
                )
            qs = qs.filter(contact_id=filters["contact"])
        if "name" in filters:
            qs = qs.filter(name=filters["name"])
        if "since" in filters:
            qs = qs.filter(occurred_at__gte=filters["since"])
        if "until" in filters:
            qs = qs.filter(occurred_at__lt=filters["until"])
        return _page(request, self, qs, EventOutputSerializer)

    @extend_schema(
        operation_id="events_create",
        summary="Record an event",
        description="201 with the new event; 200 with the first event when the idempotency key "
        "(body `idempotency_key` or `Idempotency-Key` header) was already used for the same event "
        "(header `Idempotent-Replayed: true`); 409 when it was used for a different one. A contact "
        "named by external_id or phone that does not exist yet is created.",
        parameters=[IDEMPOTENCY_KEY_HEADER],
        request=EventInputSerializer,
        responses={
            201: EventOutputSerializer,
            200: EventOutputSerializer,
            **_errors(400, 401, 403, 409, 429),
        },
    )
    def post(self, request):
        # a plain event skips DRF's per-field machinery (built anew for every request)
        data = event_fast_checked(request.data) or _body(EventInputSerializer, request)
        item = idempotency_key_merged(dict(data), request)
        try:
            (result,) = events_ingest(
                workspace=request.workspace, actor=Actor.from_request(request), items=[item]
            )
        except EventsRejected as exc:
            raise exc.as_validation_error(lambda index, field: field) from None
        response = Response(
            EventOutputSerializer(result.event).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
        if not result.created:
            response["Idempotent-Replayed"] = "true"
        return response


class EventBatchApi(APIView):
    required_permission = EVENTS_PERMS

    @extend_schema(
        operation_id="events_batch_create",
        summary=f"Record up to {MAX_BATCH:,} events at once",
        description="All events are checked first; if any is invalid nothing is written and the "
        "error names each one by index (`events[12].name`). Otherwise all are written in one "
        "transaction. Each result says `created` or `duplicate` (idempotency key seen before, or "
        "earlier in the same batch, with the same content). 409 when the only errors are "
        "idempotency keys reused for different events; 413 over the limit. Contacts named by "
        "external_id or phone that do not exist are created. Journeys the events trigger are "
        "entered in the same transaction; `lag_s` says how far behind the engine is.",
        request=EventBatchInputSerializer,
        responses={200: EventBatchOutputSerializer, **_errors(400, 401, 403, 409, 413, 429)},
    )
    def post(self, request):
        body = request.data
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise ValidationError({"events": ['Send {"events": [...]}, a list of events.']})
        unknown = sorted(set(body) - {"events"})
        if unknown:
            raise ValidationError({key: ["Unknown field (known fields: events)."] for key in unknown})
        events = body["events"]
        if len(events) > MAX_BATCH:
            raise TooManyItems(field="events", limit=MAX_BATCH, given=len(events))
        if not events:
            raise ValidationError({"events": ["Give at least one event."]})
        # Check every event, so one answer lists every problem.
        items, errors = validated_each(EventInputSerializer, events, fast=event_fast_checked)
        try:
            results = events_ingest(
                workspace=request.workspace, actor=Actor.from_request(request), items=items, errors=errors
            )
        except EventsRejected as exc:
            raise exc.as_validation_error(lambda index, field: f"events[{index}].{field}") from None
        body = {
            "created": sum(r.created for r in results),
            "duplicates": sum(not r.created for r in results),
            "contacts_created": len({r.event.contact_id for r in results if r.contact_created}),
            "lag_s": engine_lag_s(workspace=request.workspace),
            "results": [
                {
                    "index": r.index,
                    "status": "created" if r.created else "duplicate",
                    "event_id": r.event.pk,
                    "contact_id": r.event.contact_id,
                    "contact_created": r.contact_created,
                }
                for r in results
            ],
        }
        # plain data in the documented shape (EventBatchOutputSerializer): a serializer's
        # per-field copy of 10,000 results cost more than writing them
        return Response(body)
