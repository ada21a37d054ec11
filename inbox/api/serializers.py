"""Input and output serializers of the inbox API."""

from rest_framework import serializers

from channels_app.api.serializers import MessageOutputSerializer
from channels_app.models import Purpose
from contacts.api.serializers import StrictInputSerializer
from contacts.models import ChannelKind
from cpaas.api.common import OutputModelSerializer

from ..models import Conversation, Entry, Priority

STATUS_FILTERS = ["active", "all", *Conversation.Status.values]
KINDS = ", ".join(ChannelKind.values)


class InboxUserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.SerializerMethodField()

    def get_name(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


class InboxContactRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()
    phone = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_blank=True)


class ConversationOutputSerializer(OutputModelSerializer):
    contact = InboxContactRefSerializer()
    queue = serializers.CharField(source="queue.name", help_text="The queue's name.")
    queue_id = serializers.IntegerField()
    assignee = InboxUserRefSerializer(allow_null=True)
    last_inbound_kind = serializers.CharField(
        help_text=f"The channel of the contact's last message ({KINDS}), or ''."
    )
    sla_breached = serializers.SerializerMethodField(
        help_text="First response or resolution came late or is overdue."
    )

    class Meta:
        model = Conversation
        fields = ["id", "number", "status", "snoozed_until", "priority", "queue", "queue_id", "assignee", "contact",
                  "opened_at", "waiting_since", "first_response_at", "resolved_at", "last_message_at",
                  "last_inbound_kind", "needs_review", "review_reason", "disposition", "handoff_journey_id",
                  "handoff_node", "first_response_due_at", "resolution_due_at", "sla_breached"]  # fmt: skip

    def get_sla_breached(self, obj) -> bool:
        now = self.context.get("now")
        return obj.first_response_breached(now) or obj.resolution_breached(now)


class InboxEntryOutputSerializer(OutputModelSerializer):
    author = InboxUserRefSerializer(allow_null=True)
    mentions = serializers.SerializerMethodField()
    conversation_id = serializers.IntegerField()

    class Meta:
        model = Entry
        fields = ["id", "conversation_id", "kind", "author", "body", "data", "mentions", "created_at"]

    def get_mentions(self, obj) -> list[int]:
        return [u.pk for u in obj.mentions.all()]


class InboxTimelineItemSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="message, or the entry's kind (note, assigned, handed_off...)")
    message = MessageOutputSerializer(allow_null=True)
    entry = InboxEntryOutputSerializer(allow_null=True)
    author = InboxUserRefSerializer(allow_null=True, help_text="Who wrote the note or sent the reply.")


class ConversationDetailSerializer(serializers.Serializer):
    conversation = ConversationOutputSerializer()
    timeline = InboxTimelineItemSerializer(
        many=True, help_text="Oldest first; page back with ?before=<first at>."
    )


class InboxListQuerySerializer(StrictInputSerializer):
    allowed_extra = frozenset({"page", "page_size"})
    status = serializers.ChoiceField(
        choices=STATUS_FILTERS, required=False, help_text="Default: active (not resolved)."
    )
    mine = serializers.BooleanField(required=False)
    unassigned = serializers.BooleanField(required=False)
    queue = serializers.IntegerField(required=False, min_value=1)
    channel = serializers.CharField(
        required=False, max_length=16, help_text=f"The last inbound channel: {KINDS}."
    )
    priority = serializers.ChoiceField(choices=Priority.values, required=False)
    breached = serializers.BooleanField(required=False)
    needs_review = serializers.BooleanField(required=False)
    q = serializers.CharField(required=False, max_length=200)
    sort = serializers.ChoiceField(choices=["waiting", "recent", "newest", "priority"], required=False)


class InboxTimelineQuerySerializer(StrictInputSerializer):
    before = serializers.DateTimeField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200)


class InboxAssignInputSerializer(StrictInputSerializer):
    assignee_id = serializers.IntegerField(allow_null=True, help_text="A user id; null unassigns.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class InboxTransferInputSerializer(StrictInputSerializer):
    queue_id = serializers.IntegerField(required=False, allow_null=True)
    assignee_id = serializers.IntegerField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class InboxStatusInputSerializer(StrictInputSerializer):
    status = serializers.ChoiceField(choices=["open", "pending", "snoozed"])
    snoozed_until = serializers.DateTimeField(required=False, allow_null=True)


class InboxResolveInputSerializer(StrictInputSerializer):
    disposition = serializers.ChoiceField(
        choices=Conversation.Disposition.values, required=False, allow_blank=True
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class InboxReturnInputSerializer(StrictInputSerializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class InboxReplyInputSerializer(StrictInputSerializer):
    channel_kind = serializers.ChoiceField(
        choices=ChannelKind.values,
        required=False,
        help_text="Default: the channel of the contact's last message.",
    )
    text = serializers.CharField(required=False, allow_blank=True, max_length=4096)
    template = serializers.CharField(
        required=False, max_length=200, help_text="An approved WhatsApp template's name."
    )
    variables = serializers.JSONField(required=False, help_text="The template's variables (object or list).")
    media_url = serializers.URLField(required=False, max_length=2000)
    send_at = serializers.DateTimeField(required=False, help_text="Schedule it (with the time zone).")
    purpose = serializers.ChoiceField(choices=Purpose.values, required=False)
    idempotency_key = serializers.CharField(required=False, max_length=200)


class InboxPreviewInputSerializer(StrictInputSerializer):
    channel_kind = serializers.CharField(required=False, max_length=16, help_text=KINDS)
    is_template = serializers.BooleanField(required=False)
    purpose = serializers.ChoiceField(choices=Purpose.values, required=False)


class InboxPreviewOutputSerializer(serializers.Serializer):
    channel_kind = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["allow", "deny", "defer"])
    rule = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    defer_until = serializers.DateTimeField(allow_null=True)
    template_required = serializers.BooleanField(
        help_text="The WhatsApp window is closed: only a template may go."
    )


class InboxNoteInputSerializer(StrictInputSerializer):
    body = serializers.CharField(max_length=5000, help_text="@username mentions an agent.")
