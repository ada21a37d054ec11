"""Messages, channels and verifications API under /api/v1/. One view per resource; views parse
with a serializer, call one service or selector and render; every query is scoped to
`request.workspace`, so another workspace's object is simply not found (404)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.models import ChannelKind, Contact
from cpaas.api.common import IDEMPOTENCY_KEY_HEADER, error_responses, idempotency_key_merged
from cpaas.api.common import body as _body
from cpaas.api.pagination import Pagination
from cpaas.tenancy import Actor

from .. import selectors
from ..addresses import contact_find_or_create, normalize_address
from ..models import Message, Verification
from ..services.messages import PREFERRED, message_send, message_send_batch
from ..services.verify import (
    OVER_TEXT,
    VerificationOver,
    VerificationRateLimited,
    verification_channel,
    verification_check,
    verification_resend,
    verification_start,
)
from ..services.verify_policy import verify_policy_get, verify_policy_update
from .serializers import (
    ChannelOutputSerializer,
    MessageBatchInputSerializer,
    MessageBatchOutputSerializer,
    MessageDetailSerializer,
    MessageFilterSerializer,
    MessageOutputSerializer,
    MessageSendInputSerializer,
    VerificationCheckInputSerializer,
    VerificationCheckOutputSerializer,
    VerificationOutputSerializer,
    VerificationStartInputSerializer,
    VerifyPolicyInputSerializer,
    VerifyPolicySerializer,
)

MESSAGES_PERMS = ("messages.view", "messages.send")
VERIFY_PERMS = ("messages.view", "verify.use")


def _errors(*codes: int) -> dict:
    return error_responses(*codes, conflict="Idempotency key already used for a message to another contact.")


def _id(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.INT, OpenApiParameter.PATH, description=f"{what} id.")


def _throttled(exc: VerificationRateLimited):
    return exceptions.Throttled(wait=exc.retry_after_s, detail=exc.messages[0])


def _contact(request, data: dict, kind: str | None) -> Contact:
    """The contact named by contact_id, external_id or `to` (created when `to` is new)."""
    given = [k for k in ("contact_id", "external_id", "to") if data.get(k) not in (None, "")]
    if len(given) != 1:
        raise ValidationError({"contact_id": ["Give exactly one of contact_id, external_id or to."]})
    qs = Contact.objects.filter(workspace=request.workspace)
    if "contact_id" in given:
        contact = qs.filter(pk=data["contact_id"]).first()
        if contact is None:
            raise ValidationError(
                {"contact_id": [f"Contact {data['contact_id']} not found in this workspace."]}
            )
        return contact
    if "external_id" in given:
        contact = qs.filter(external_id=data["external_id"]).first()
        if contact is None:
            raise ValidationError({"external_id": [f"No contact with external id '{data['external_id']}'."]})
        return contact
    if kind is None:
        raise ValidationError({"channel": ["With `to`, name the channel kind (e.g. sms) or a channel id."]})
    address = normalize_address(request.workspace, kind, data["to"])
    contact, _ = contact_find_or_create(request.workspace, kind, address, Actor.from_request(request))
    return contact


def _kind_of(request, channel) -> str | None:
    if channel == PREFERRED:
        return None
    if str(channel).isdigit():
        found = selectors.channel_list(workspace=request.workspace).filter(pk=int(channel)).first()
        return found.kind if found else None
    return channel if channel in ChannelKind.values else None


# --- messages -----------------------------------------------------------------------------------


class MessageListCreateApi(APIView):
    required_permission = MESSAGES_PERMS
    pagination_class = Pagination

    @extend_schema(
        operation_id="messages_list",
        summary="List messages, newest first",
        parameters=[MessageFilterSerializer],
        responses={200: MessageOutputSerializer(many=True), **_errors(400, 401, 403, 429)},
    )
    def get(self, request):
        params = {k: v for k, v in request.query_params.dict().items() if v.strip() != ""}
        serializer = MessageFilterSerializer(data=params)
        serializer.is_valid(raise_exception=True)
        f = serializer.validated_data
        qs = selectors.message_list(
            workspace=request.workspace,
            filters={
                "contact": f.get("contact_id"),
                "channel": f.get("channel_id"),
                "kind": f.get("kind"),
                "status": f.get("status"),
                "direction": f.get("direction"),
                "purpose": f.get("purpose"),
            },
        )
        if "since" in f:
            qs = qs.filter(created_at__gte=f["since"])
        if "until" in f:
            qs = qs.filter(created_at__lt=f["until"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(MessageOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="messages_send",
        summary="Send a message",
        description="Consent is checked first: a denied message is stored `blocked` with the reason "
        "(201), a deferred one `deferred` until the allowed time, an allowed one `queued` and handed to "
        "the provider right after. The same `idempotency_key` (or `Idempotency-Key` header) again "
        "returns the first message with 200 and sends nothing. Follow the status with GET or the "
        "message's page.",
        parameters=[IDEMPOTENCY_KEY_HEADER],
        request=MessageSendInputSerializer,
        responses={
            201: MessageOutputSerializer,
            200: MessageOutputSerializer,
            **_errors(400, 401, 403, 409, 429),
        },
    )
    def post(self, request):
        data = idempotency_key_merged(dict(_body(MessageSendInputSerializer, request)), request)
        channel = data.get("channel") or PREFERRED
        contact = _contact(request, data, _kind_of(request, channel))
        message = message_send(
            workspace=request.workspace,
            contact=contact,
            channel=int(channel) if str(channel).isdigit() else channel,
            content=data["content"],
            purpose=data.get("purpose") or "transactional",
            idempotency_key=data.get("idempotency_key"),
            fallback=data.get("fallback"),
            fallback_after_s=data.get("fallback_after_s"),
            options=data.get("options"),
            origin=Message.Origin.API,
            actor=Actor.from_request(request),
        )
        replayed = getattr(message, "replayed", False)
        response = Response(
            MessageOutputSerializer(message).data,
            status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED,
        )
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class MessageDetailApi(APIView):
    required_permission = MESSAGES_PERMS

    @extend_schema(
        operation_id="messages_retrieve",
        summary="Get a message with its status history",
        parameters=[_id("message_id", "Message")],
        responses={200: MessageDetailSerializer, **_errors(401, 403, 404, 429)},
    )
    def get(self, request, message_id):
        try:
            message = selectors.message_get(workspace=request.workspace, pk=message_id)
        except Message.DoesNotExist:
            raise exceptions.NotFound(f"Message {message_id} not found in this workspace.") from None
        return Response(MessageDetailSerializer(message).data)


class MessageBatchApi(APIView):
    required_permission = MESSAGES_PERMS

    @extend_schema(
        operation_id="messages_batch_send",
        summary="Send the same message to up to 10,000 contacts",
        description="Contacts that cannot be reached on the channel (no address, no active channel) "
        "are listed under `skipped` with the reason; the others get one message each (queued, "
        "blocked or deferred as consent decides) in a fixed number of queries. With "
        "`idempotency_key` a replay sends nothing new.",
        request=MessageBatchInputSerializer,
        responses={200: MessageBatchOutputSerializer, **_errors(400, 401, 403, 429)},
    )
    def post(self, request):
        data = _body(MessageBatchInputSerializer, request)
        ids = list(dict.fromkeys(data["contact_ids"]))
        contacts = list(Contact.objects.filter(workspace=request.workspace, pk__in=ids))
        missing = sorted(set(ids) - {c.pk for c in contacts})
        if missing:
            raise ValidationError(
                {"contact_ids": [f"Not found in this workspace: {', '.join(map(str, missing[:20]))}."]}
            )
        channel = data.get("channel") or PREFERRED
        messages, skipped = message_send_batch(
            workspace=request.workspace,
            contacts=contacts,
            channel=int(channel) if str(channel).isdigit() else channel,
            content=data["content"],
            purpose=data.get("purpose") or "transactional",
            idempotency_key=data.get("idempotency_key"),
            fallback=data.get("fallback"),
            fallback_after_s=data.get("fallback_after_s"),
            origin=Message.Origin.API,
            actor=Actor.from_request(request),
        )
        return Response(
            {
                "count": len(messages),
                "messages": [{"id": m.pk, "contact_id": m.contact_id, "status": m.status} for m in messages],
                "skipped": [{"contact_id": pk, "reason": reason} for pk, reason in skipped.items()],
            }
        )


class ChannelListApi(APIView):
    required_permission = ("messages.view", "channels.manage")
    pagination_class = Pagination

    @extend_schema(
        operation_id="channels_list",
        summary="List the workspace's channels (credentials masked)",
        responses={200: ChannelOutputSerializer(many=True), **_errors(401, 403, 429)},
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.channel_list(workspace=request.workspace), request, view=self
        )
        return paginator.get_paginated_response(ChannelOutputSerializer(page, many=True).data)


# --- verifications ------------------------------------------------------------------------------


def _verification_or_404(request, verification_id) -> Verification:
    try:
        return selectors.verification_get(workspace=request.workspace, pk=verification_id)
    except Verification.DoesNotExist:
        raise exceptions.NotFound(f"Verification {verification_id} not found in this workspace.") from None


def _verification_out(verification: Verification) -> dict:
    data = VerificationOutputSerializer(verification).data
    data["channel"] = verification_channel(verification)
    return data


class VerificationStartApi(APIView):
    required_permission = VERIFY_PERMS

    @extend_schema(
        operation_id="verifications_start",
        summary="Start an OTP verification (send a code)",
        description="The code is sent with purpose `otp` on the first channel of `channels` and falls "
        "back to the next one when it is not delivered within `fallback_after_s`. The code is never "
        "returned. 429 with Retry-After when a limit of the workspace's verification settings is "
        "reached (per number, per end-user IP given as `client_ip`, per destination prefix, per "
        "workspace per minute, or the resend cooldown for the same number): try again then. 400 on "
        "`to` for a country the workspace does not verify.",
        request=VerificationStartInputSerializer,
        responses={201: VerificationOutputSerializer, **_errors(400, 401, 403, 429)},
    )
    def post(self, request):
        data = _body(VerificationStartInputSerializer, request)
        contact = None
        if data.get("contact_id") is not None:
            contact = Contact.objects.filter(workspace=request.workspace, pk=data["contact_id"]).first()
            if contact is None:
                raise ValidationError(
                    {"contact_id": [f"Contact {data['contact_id']} not found in this workspace."]}
                )
        try:
            verification = verification_start(
                workspace=request.workspace,
                contact=contact,
                to=data.get("to"),
                channels=data.get("channels"),
                code_length=data["code_length"],
                expiry_s=data["expiry_s"],
                fallback_after_s=data["fallback_after_s"],
                max_attempts=data["max_attempts"],
                locale=data["locale"],
                client_ip=data.get("client_ip"),
                actor=Actor.from_request(request),
                now=timezone.now(),
            )
        except VerificationRateLimited as exc:
            raise _throttled(exc) from None
        return Response(_verification_out(verification), status=status.HTTP_201_CREATED)


class VerificationDetailApi(APIView):
    required_permission = VERIFY_PERMS

    @extend_schema(
        operation_id="verifications_retrieve",
        summary="Get a verification",
        parameters=[_id("verification_id", "Verification")],
        responses={200: VerificationOutputSerializer, **_errors(401, 403, 404, 429)},
    )
    def get(self, request, verification_id):
        return Response(_verification_out(_verification_or_404(request, verification_id)))


class VerificationCheckApi(APIView):
    required_permission = ("verify.use", "verify.use")

    @extend_schema(
        operation_id="verifications_check",
        summary="Check a code",
        description="Answers 200 with `status` approved or incorrect (the verification's own `status` "
        "turns `failed` on the last allowed wrong code). A verification that is over (approved, expired, "
        "out of attempts or replaced by a newer one) answers 404, like Twilio Verify, with the reason in "
        "the error's message: start a new verification.",
        parameters=[_id("verification_id", "Verification")],
        request=VerificationCheckInputSerializer,
        responses={200: VerificationCheckOutputSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    def post(self, request, verification_id):
        verification = _verification_or_404(request, verification_id)
        data = _body(VerificationCheckInputSerializer, request)
        outcome = verification_check(verification=verification, code=data["code"], now=timezone.now())
        if outcome in OVER_TEXT:  # like Twilio Verify: a finished verification is not found
            raise exceptions.NotFound(
                f"Verification {verification.pk} is over: {OVER_TEXT[outcome]}. Start a new verification."
            )
        verification.refresh_from_db()
        return Response({"status": outcome, "verification": _verification_out(verification)})


class VerificationResendApi(APIView):
    required_permission = ("verify.use", "verify.use")

    @extend_schema(
        operation_id="verifications_resend",
        summary="Send a new code on the next channel",
        description="429 with Retry-After inside the resend cooldown or after 5 codes; 404 for a "
        "verification that is over (approved, expired, out of attempts, canceled).",
        parameters=[_id("verification_id", "Verification")],
        request=None,
        responses={200: VerificationOutputSerializer, **_errors(400, 401, 403, 404, 429)},
    )
    def post(self, request, verification_id):
        verification = _verification_or_404(request, verification_id)
        try:
            verification = verification_resend(verification=verification, now=timezone.now())
        except VerificationRateLimited as exc:
            raise _throttled(exc) from None
        except VerificationOver as exc:
            raise exceptions.NotFound(f"Verification {verification.pk}: {exc.messages[0]}") from None
        return Response(_verification_out(verification))


class VerifyPolicyApi(APIView):
    required_permission = ("verify.use", "channels.manage")

    @extend_schema(
        operation_id="verifications_settings_retrieve",
        summary="The workspace's verification settings (countries, limits, resend cooldown)",
        responses={200: VerifyPolicySerializer, **_errors(401, 403, 429)},
    )
    def get(self, request):
        return Response(VerifyPolicySerializer(verify_policy_get(workspace=request.workspace)).data)

    @extend_schema(
        operation_id="verifications_settings_update",
        summary="Change verification settings (only those given)",
        request=VerifyPolicyInputSerializer,
        responses={200: VerifyPolicySerializer, **_errors(400, 401, 403, 429)},
    )
    def patch(self, request):
        data = _body(VerifyPolicyInputSerializer, request)
        policy = verify_policy_update(
            workspace=request.workspace,
            actor=Actor.from_request(request),
            data=dict(data),
            now=timezone.now(),
        )
        return Response(VerifyPolicySerializer(policy).data)
