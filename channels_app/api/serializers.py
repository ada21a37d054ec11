"""Input, filter and output serializers of the messages, channels and verifications API. Input
serializers check shapes; the services check values (content per kind, consent, addresses)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.api.serializers import AwareDateTimeField, ErrorSerializer, StrictInputSerializer  # noqa: F401
from contacts.models import ChannelKind
from cpaas.api.common import OutputModelSerializer

from ..models import Channel, Message, MessageStatusEvent, Verification, VerifyPolicy

KINDS = ", ".join(ChannelKind.values)
CONTENT_HELP = (
    'What to send, e.g. {"text": "Hi"}. Keys: text, media_url, buttons (list of titles or '
    '{"id", "title"}), quick_replies, template {name, language, variables} (WhatsApp), voice {say, '
    "language, gather {digits, timeout_s}}, email {subject, body}. Buttons on a kind without them "
    "become numbered options in the text (see content_notes)."
)


class MessageSendInputSerializer(StrictInputSerializer):
    contact_id = serializers.IntegerField(required=False, help_text="The contact; or external_id, or to.")
    external_id = serializers.CharField(required=False, help_text="Your id for the contact.")
    to = serializers.CharField(
        required=False,
        help_text="An address (phone, email...): the contact with it, created if new. Needs a channel kind.",
    )
    channel = serializers.CharField(
        required=False, default="preferred", help_text=f"'preferred', a kind ({KINDS}) or a channel id."
    )
    content = serializers.JSONField(help_text=CONTENT_HELP)
    purpose = serializers.CharField(
        required=False,
        default="transactional",
        help_text="transactional, otp, marketing, collections, or a workspace purpose.",
    )
    idempotency_key = serializers.CharField(
        required=False,
        max_length=200,
        help_text="The same key again sends nothing and returns the first message (200).",
    )
    fallback = serializers.ListField(
        child=serializers.CharField(), required=False, help_text='Kinds to try next, e.g. ["sms", "voice"].'
    )
    fallback_after_s = serializers.IntegerField(
        required=False, help_text="Seconds without a delivery receipt before the next kind (default 60)."
    )
    options = serializers.JSONField(
        required=False, help_text='Provider options, e.g. {"sandbox": {"fail": "30003"}}.'
    )


class ConsentDecisionSerializer(serializers.Serializer):
    outcome = serializers.CharField(source="consent_outcome")
    rule = serializers.CharField(source="consent_rule")
    reason = serializers.CharField(source="consent_reason")


def _text(help_text: str):
    # plain strings, not enums: the schema's enum names would collide with other apps' fields
    return serializers.CharField(read_only=True, help_text=help_text)


class MessageOutputSerializer(OutputModelSerializer):
    kind = _text(KINDS)
    status = _text(", ".join(Message.Status.values))
    direction = _text("out or in")
    origin = _text(", ".join(Message.Origin.values))
    sent_by = _text(
        "automation (a journey, the API, a task) or person (an agent in the inbox): consent treats them differently"
    )
    contact_id = serializers.IntegerField()
    channel_id = serializers.IntegerField()
    consent = ConsentDecisionSerializer(source="*")
    fallback_of = serializers.PrimaryKeyRelatedField(read_only=True)
    first_attempt = serializers.PrimaryKeyRelatedField(read_only=True)
    reply_to = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Message
        fields = [
            "id", "contact_id", "channel_id", "kind", "direction", "address", "status", "text", "content",
            "content_notes", "purpose", "origin", "origin_ref", "sent_by", "idempotency_key", "provider_message_id",
            "segments", "encoding", "cost", "cost_currency", "error_code", "error_reason", "attempts",
            "created_at", "due_at", "sent_at", "delivered_at", "read_at", "failed_at", "consent",
            "fallback_chain", "fallback_after_s", "fallback_of", "first_attempt", "reply_to",
        ]  # fmt: skip


class MessageStatusEventSerializer(OutputModelSerializer):
    class Meta:
        model = MessageStatusEvent
        fields = ["status", "at", "source", "applied", "error_code", "detail"]


class MessageDetailSerializer(MessageOutputSerializer):
    history = serializers.SerializerMethodField(help_text="Every status change, oldest first.")

    class Meta(MessageOutputSerializer.Meta):
        fields = [*MessageOutputSerializer.Meta.fields, "history"]

    @extend_schema_field(MessageStatusEventSerializer(many=True))
    def get_history(self, message) -> list:
        from ..selectors import message_history

        return MessageStatusEventSerializer(
            message_history(workspace=message.workspace, message=message), many=True
        ).data


class MessageFilterSerializer(StrictInputSerializer):
    allowed_extra = frozenset({"page", "page_size"})

    contact_id = serializers.IntegerField(required=False)
    channel_id = serializers.IntegerField(required=False)
    kind = serializers.CharField(required=False, help_text=KINDS)
    status = serializers.CharField(required=False, help_text=", ".join(Message.Status.values))
    direction = serializers.CharField(required=False, help_text="out or in")
    purpose = serializers.CharField(required=False)
    since = AwareDateTimeField(required=False, help_text="Created at or after this time.")
    until = AwareDateTimeField(required=False, help_text="Created before this time.")

    def _one_of(self, value, allowed, what):
        if value not in allowed:
            raise serializers.ValidationError(f"Unknown {what} '{value}' (one of {', '.join(allowed)}).")
        return value

    def validate_kind(self, value):
        return self._one_of(value, ChannelKind.values, "kind")

    def validate_status(self, value):
        return self._one_of(value, Message.Status.values, "status")

    def validate_direction(self, value):
        return self._one_of(value, ["out", "in"], "direction")


class MessageBatchInputSerializer(StrictInputSerializer):
    contact_ids = serializers.ListField(
        child=serializers.IntegerField(), max_length=10_000, allow_empty=False
    )
    channel = serializers.CharField(required=False, default="preferred")
    content = serializers.JSONField(help_text=CONTENT_HELP)
    purpose = serializers.CharField(required=False, default="transactional")
    idempotency_key = serializers.CharField(
        required=False,
        max_length=179,
        help_text="Each contact's message gets `<key>:<contact id>`; a replay sends nothing new.",
    )
    fallback = serializers.ListField(child=serializers.CharField(), required=False)
    fallback_after_s = serializers.IntegerField(required=False)


class BatchItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    contact_id = serializers.IntegerField()
    status = serializers.CharField()


class BatchSkipSerializer(serializers.Serializer):
    contact_id = serializers.IntegerField()
    reason = serializers.CharField()


class MessageBatchOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    messages = BatchItemSerializer(many=True)
    skipped = BatchSkipSerializer(many=True)


class ChannelOutputSerializer(OutputModelSerializer):
    kind = _text(KINDS)
    status = _text("active or disabled")
    credentials = serializers.SerializerMethodField(help_text="Masked: never shown in full.")

    class Meta:
        model = Channel
        fields = [
            "id",
            "kind",
            "provider",
            "name",
            "address",
            "rate_limit_per_second",
            "status",
            "credentials",
            "created_at",
        ]

    def get_credentials(self, channel) -> dict[str, str]:
        return channel.masked_credentials()


class VerificationStartInputSerializer(StrictInputSerializer):
    contact_id = serializers.IntegerField(required=False)
    to = serializers.CharField(required=False, help_text="A phone number (or email for the email channel).")
    channels = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text='Order to try, e.g. ["whatsapp", "sms", "voice"] (default ["sms"]).',
    )
    code_length = serializers.IntegerField(required=False, default=6)
    expiry_s = serializers.IntegerField(required=False, default=600)
    fallback_after_s = serializers.IntegerField(required=False, default=30)
    max_attempts = serializers.IntegerField(required=False, default=5)
    locale = serializers.CharField(required=False, default="en")
    client_ip = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=64,
        help_text="The end user's IP address (IPv4 or IPv6), as your system saw it: counted for the "
        "workspace's per-IP limit against SMS pumping.",
    )


class VerificationCheckInputSerializer(StrictInputSerializer):
    # blank passes here so that a finished verification answers 404 whatever the code; while it
    # is pending the service refuses an empty code as a field error
    code = serializers.CharField(max_length=12, allow_blank=True)


class VerificationOutputSerializer(OutputModelSerializer):
    status = _text(", ".join(Verification.Status.values))
    contact_id = serializers.IntegerField()
    channel = serializers.SerializerMethodField(help_text="The kind the code was last sent on.")

    class Meta:
        model = Verification
        fields = [
            "id", "contact_id", "address", "status", "channels", "channel", "code_length", "locale",
            "attempts", "max_attempts", "sends", "expires_at", "created_at", "approved_at",
            "client_ip", "country", "prefix",
        ]  # fmt: skip

    def get_channel(self, verification) -> str:
        return verification.channels[min(verification.channel_index, len(verification.channels) - 1)]


class VerificationCheckOutputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["approved", "incorrect"],
        help_text="approved (the code matches) or incorrect (try again while the verification is "
        "pending). A verification that is over answers 404 instead.",
    )
    verification = VerificationOutputSerializer()


class VerifyPolicySerializer(serializers.ModelSerializer):
    countries = serializers.ListField(
        child=serializers.CharField(max_length=2),
        help_text="ISO 3166 codes phone verifications may go to (e.g. GB, IE); empty: every country.",
    )

    class Meta:
        model = VerifyPolicy
        fields = [
            "countries",
            "per_minute",
            "per_number",
            "per_ip",
            "per_prefix",
            "resend_cooldown_s",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]


class VerifyPolicyInputSerializer(StrictInputSerializer):
    """Only the settings given change."""

    countries = serializers.ListField(child=serializers.CharField(max_length=2), required=False)
    per_minute = serializers.IntegerField(
        required=False, help_text="Verifications per minute, workspace-wide."
    )
    per_number = serializers.IntegerField(required=False, help_text="Per number per 10 minutes.")
    per_ip = serializers.IntegerField(required=False, help_text="Per end-user IP per 10 minutes.")
    per_prefix = serializers.IntegerField(
        required=False, help_text="Per destination prefix (+country code and 4 digits) per 10 minutes."
    )
    resend_cooldown_s = serializers.IntegerField(
        required=False, help_text="Seconds between two codes to a number."
    )
