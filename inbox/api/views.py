"""Inbox API (/api/v1/conversations/): one view per operation; parse, check who may see the
conversation (inbox.selectors.Viewer: an agent sees their queues', a supervisor or an API token
all; any other answers 404), call one service, render."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.api.serializers import MessageOutputSerializer
from cpaas.api.common import IDEMPOTENCY_KEY_HEADER, idempotency_key_merged, query
from cpaas.api.common import body as _body
from cpaas.api.common import error_responses as _errors
from cpaas.api.pagination import Pagination
from cpaas.tenancy import Actor

from .. import selectors, services
from ..models import Queue
from .serializers import (
    ConversationDetailSerializer,
    ConversationOutputSerializer,
    InboxAssignInputSerializer,
    InboxEntryOutputSerializer,
    InboxListQuerySerializer,
    InboxNoteInputSerializer,
    InboxPreviewInputSerializer,
    InboxPreviewOutputSerializer,
    InboxReplyInputSerializer,
    InboxResolveInputSerializer,
    InboxReturnInputSerializer,
    InboxStatusInputSerializer,
    InboxTimelineQuerySerializer,
    InboxTransferInputSerializer,
)

VIEW, REPLY, ASSIGN = "inbox.view", "inbox.reply", "inbox.assign"
NUMBER = OpenApiParameter(
    "number", OpenApiTypes.INT, OpenApiParameter.PATH, description="The conversation's number."
)


def _conversation(request, number):
    return selectors.conversation_by_number(selectors.Viewer.from_request(request), number)


def _user(request, user_id, field: str):
    if user_id is None:
        return None
    user = (
        get_user_model()
        .objects.filter(pk=user_id, memberships__workspace=request.workspace, memberships__is_active=True)
        .first()
    )
    if user is None:
        raise ValidationError({field: [f"No user {user_id} in this workspace."]})
    return user


def _out(conversation):
    return ConversationOutputSerializer(conversation, context={"now": timezone.now()}).data


class ConversationListApi(APIView):
    required_permission = (VIEW, VIEW)
    pagination_class = Pagination

    @extend_schema(
        operation_id="conversations_list",
        summary="Conversations you may see, filtered; longest waiting first by default",
        parameters=[InboxListQuerySerializer],
        responses={200: ConversationOutputSerializer(many=True), **_errors(400, 401, 403)},
    )
    def get(self, request):
        params = query(InboxListQuerySerializer, request)
        sort = params.pop("sort", "waiting")
        filters = {
            k: v for k, v in params.items() if k not in ("page", "page_size") and v not in (False, None)
        }
        qs = selectors.conversation_list(selectors.Viewer.from_request(request), filters=filters, sort=sort)
        qs = qs.select_related("contact", "queue", "assignee")
        paginator = self.pagination_class()
        items = paginator.paginate_queryset(qs, request, view=self)
        data = ConversationOutputSerializer(items, many=True, context={"now": timezone.now()}).data
        return paginator.get_paginated_response(data)


class ConversationDetailApi(APIView):
    required_permission = (VIEW, VIEW)

    @extend_schema(
        operation_id="conversations_read",
        summary="A conversation with its timeline (messages of every channel, activity, notes)",
        parameters=[NUMBER, InboxTimelineQuerySerializer],
        responses={200: ConversationDetailSerializer, **_errors(400, 401, 403, 404)},
    )
    def get(self, request, number):
        conversation = _conversation(request, number)
        params = query(InboxTimelineQuerySerializer, request)
        items = selectors.timeline(
            request.workspace,
            conversation,
            before=params.get("before"),
            limit=params.get("limit", 50),
            viewer=selectors.Viewer.from_request(request),
        )
        return Response(
            ConversationDetailSerializer(
                {"conversation": conversation, "timeline": items}, context={"now": timezone.now()}
            ).data
        )


# POST /conversations/<number>/<action>/: parse the body, run one service, answer the conversation
# as it is now. A subclass names its body and its service call. (A comment, not a docstring: the
# schema would show it as every action's description.)
class _ConversationAction(APIView):
    required_permission = (REPLY, REPLY)
    body_serializer = None  # None: the action takes no body

    def act(self, request, actor, conversation, data):
        raise NotImplementedError

    def post(self, request, number):
        conversation = _conversation(request, number)
        data = _body(self.body_serializer, request) if self.body_serializer else {}
        return Response(_out(self.act(request, Actor.from_request(request), conversation, data)))


def _action_schema(operation_id: str, summary: str, body):
    return extend_schema_view(
        post=extend_schema(operation_id=operation_id, summary=summary, parameters=[NUMBER], request=body,
                           responses={200: ConversationOutputSerializer, **_errors(400, 401, 403, 404)})
    )  # fmt: skip


@_action_schema(
    "conversations_assign", "Assign to an agent (null: back to the queue)", InboxAssignInputSerializer
)
class ConversationAssignApi(_ConversationAction):
    required_permission = (ASSIGN, ASSIGN)
    body_serializer = InboxAssignInputSerializer

    def act(self, request, actor, conversation, data):
        assignee = _user(request, data["assignee_id"], "assignee_id")
        return services.conversation_assign(
            actor=actor, conversation=conversation, assignee=assignee, note=data.get("note", "")
        )


@_action_schema("conversations_claim", "Take an unassigned conversation (a person only)", None)
class ConversationClaimApi(_ConversationAction):
    required_permission = (ASSIGN, ASSIGN)

    def act(self, request, actor, conversation, data):
        return services.conversation_claim(actor=actor, conversation=conversation)


@_action_schema(
    "conversations_transfer", "Move to another queue and/or agent, with a note", InboxTransferInputSerializer
)
class ConversationTransferApi(_ConversationAction):
    required_permission = (ASSIGN, ASSIGN)
    body_serializer = InboxTransferInputSerializer

    def act(self, request, actor, conversation, data):
        queue = None
        if data.get("queue_id") is not None:
            queue = Queue.objects.filter(workspace=request.workspace, pk=data["queue_id"]).first()
            if queue is None:
                raise ValidationError({"queue_id": [f"No queue {data['queue_id']} in this workspace."]})
        return services.conversation_transfer(
            actor=actor,
            conversation=conversation,
            queue=queue,
            assignee=_user(request, data.get("assignee_id"), "assignee_id"),
            note=data.get("note", ""),
        )


@_action_schema("conversations_status", "Open, pending, or snoozed until a time", InboxStatusInputSerializer)
class ConversationStatusApi(_ConversationAction):
    body_serializer = InboxStatusInputSerializer

    def act(self, request, actor, conversation, data):
        return services.conversation_set_status(
            actor=actor,
            conversation=conversation,
            status=data["status"],
            snoozed_until=data.get("snoozed_until"),
        )


@_action_schema(
    "conversations_resolve",
    "Resolve with a disposition; a journey waiting on the hand-off resumes",
    InboxResolveInputSerializer,
)
class ConversationResolveApi(_ConversationAction):
    body_serializer = InboxResolveInputSerializer

    def act(self, request, actor, conversation, data):
        return services.conversation_resolve(
            actor=actor,
            conversation=conversation,
            disposition=data.get("disposition", ""),
            note=data.get("note", ""),
        )


@_action_schema(
    "conversations_return_to_journey",
    "Return the contact to the journey that handed them off (its waiting exit resumes)",
    InboxReturnInputSerializer,
)
class ConversationReturnApi(_ConversationAction):
    body_serializer = InboxReturnInputSerializer

    def act(self, request, actor, conversation, data):
        return services.conversation_return_to_journey(
            actor=actor, conversation=conversation, note=data.get("note", "")
        )


class ConversationReplyApi(APIView):
    required_permission = (REPLY, REPLY)

    @extend_schema(operation_id="conversations_reply",
                   summary="Reply through the send pipeline as a person; a blocked reply is stored with the reason",
                   parameters=[NUMBER, IDEMPOTENCY_KEY_HEADER], request=InboxReplyInputSerializer,
                   responses={201: MessageOutputSerializer, 200: MessageOutputSerializer,
                              **_errors(400, 401, 403, 404, 409)})  # fmt: skip
    def post(self, request, number):
        conversation = _conversation(request, number)
        data = idempotency_key_merged(dict(_body(InboxReplyInputSerializer, request)), request)
        message = services.reply_send(
            actor=Actor.from_request(request),
            conversation=conversation,
            channel_kind=data.get("channel_kind"),
            text=data.get("text", ""),
            template=data.get("template"),
            variables=data.get("variables"),
            media_url=data.get("media_url", ""),
            send_at=data.get("send_at"),
            purpose=data.get("purpose") or "transactional",
            idempotency_key=data.get("idempotency_key"),
        )
        replayed = getattr(message, "replayed", False)
        return Response(
            MessageOutputSerializer(message).data,
            status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED,
        )


class ConversationReplyPreviewApi(APIView):
    required_permission = (REPLY, REPLY)

    @extend_schema(operation_id="conversations_reply_preview",
                   summary="Would a reply go now? Consent's decision (blocked, deferred, template required), nothing sent",
                   parameters=[NUMBER], request=InboxPreviewInputSerializer,
                   responses={200: InboxPreviewOutputSerializer, **_errors(400, 401, 403, 404)})  # fmt: skip
    def post(self, request, number):
        conversation = _conversation(request, number)
        data = _body(InboxPreviewInputSerializer, request)
        kind = data.get("channel_kind") or services.default_channel(conversation)
        preview = services.reply_preview(
            conversation=conversation,
            channel_kind=kind,
            is_template=data.get("is_template", False),
            purpose=data.get("purpose") or "transactional",
        )
        return Response({"channel_kind": kind, **preview.as_json()})


class ConversationNotesApi(APIView):
    required_permission = (VIEW, REPLY)

    @extend_schema(operation_id="conversations_notes_list", summary="Private notes, oldest first",
                   parameters=[NUMBER], responses={200: InboxEntryOutputSerializer(many=True), **_errors(401, 403, 404)})  # fmt: skip
    def get(self, request, number):
        conversation = _conversation(request, number)
        notes = conversation.entries.filter(kind="note").select_related("author").prefetch_related("mentions")
        return Response(InboxEntryOutputSerializer(notes, many=True).data)

    @extend_schema(operation_id="conversations_notes_add", summary="Add a private note (@username mentions)",
                   parameters=[NUMBER], request=InboxNoteInputSerializer,
                   responses={201: InboxEntryOutputSerializer, **_errors(400, 401, 403, 404)})  # fmt: skip
    def post(self, request, number):
        conversation = _conversation(request, number)
        data = _body(InboxNoteInputSerializer, request)
        entry = services.note_add(
            actor=Actor.from_request(request), conversation=conversation, body=data["body"]
        )
        return Response(InboxEntryOutputSerializer(entry).data, status=status.HTTP_201_CREATED)
