"""Input and output serializers of the consent API. Inputs check shapes only; the services
check the rules (known channel and purpose, evidence for an opt-in...), so the API, the pages
and the CSV import say the same thing."""

from rest_framework import serializers

from contacts.api.serializers import AwareDateTimeField, ErrorSerializer, StrictInputSerializer
from contacts.models import ChannelKind
from cpaas.api.common import OutputModelSerializer

from ..models import ConsentEvent, ConsentRecord, KeywordAction, LawfulBasis, Method, Status, Suppression

CHANNELS = ", ".join(ChannelKind.values)

__all__ = ["ErrorSerializer"]


class EvidenceSerializer(StrictInputSerializer):
    notice_text = serializers.CharField(
        required=False, allow_blank=True, help_text="The words the person agreed to."
    )
    notice_version = serializers.CharField(required=False, allow_blank=True)
    url = serializers.CharField(required=False, allow_blank=True, help_text="The page of the form.")
    language = serializers.CharField(required=False, allow_blank=True)
    ip_address = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    user_agent = serializers.CharField(required=False, allow_blank=True)
    inbound_message_id = serializers.CharField(required=False, allow_blank=True)
    recording_id = serializers.CharField(required=False, allow_blank=True)


class ConsentChangeInputSerializer(StrictInputSerializer):
    channel = serializers.CharField(help_text=f"One of {CHANNELS}.")
    purpose = serializers.CharField(
        help_text="transactional, otp, collections, marketing, surveys or a custom purpose."
    )
    status = serializers.CharField(help_text=f"One of {', '.join(Status.values)}.")
    method = serializers.CharField(help_text=f"How the person told you: {', '.join(Method.values)}.")
    reason = serializers.CharField(help_text="Why, with a reference. Required.")
    evidence = EvidenceSerializer(
        required=False,
        help_text="Required for an opt-in: web_form/import need notice_text or notice_version, ivr a "
        "recording_id, keyword an inbound_message_id.",
    )
    lawful_basis = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=f"One of {', '.join(LawfulBasis.values)}; default: the purpose's.",
    )
    sender_scope = serializers.CharField(required=False, allow_blank=True, help_text="Empty: every sender.")
    jurisdiction = serializers.CharField(required=False, allow_blank=True, help_text="e.g. GB, US-CA.")
    occurred_at = AwareDateTimeField(required=False, help_text="When the person said it; default now.")
    expires_at = AwareDateTimeField(required=False, allow_null=True)


STATUS_HELP = f"One of {', '.join(Status.values)}."
BASIS_HELP = f"One of {', '.join(LawfulBasis.values)}, or empty."


class ConsentRecordSerializer(OutputModelSerializer):
    channel = serializers.CharField(source="channel_kind")
    status = serializers.CharField(help_text=STATUS_HELP)
    lawful_basis = serializers.CharField(help_text=BASIS_HELP)

    class Meta:
        model = ConsentRecord
        fields = ["channel", "purpose", "sender_scope", "status", "lawful_basis", "captured_at", "confirmed_at",
                  "expires_at", "revoked_at", "updated_at", "last_event_id"]  # fmt: skip


class ConsentEventSerializer(OutputModelSerializer):
    channel = serializers.CharField(source="channel_kind")
    contact_id = serializers.IntegerField()
    evidence = serializers.SerializerMethodField()
    previous_status = serializers.CharField(help_text="Empty when there was no record. " + STATUS_HELP)
    new_status = serializers.CharField(help_text=STATUS_HELP)
    lawful_basis = serializers.CharField(help_text=BASIS_HELP)
    method = serializers.CharField(help_text=f"One of {', '.join(Method.values)}.")
    actor_type = serializers.CharField(help_text="user, token, keyword, import or system.")

    class Meta:
        model = ConsentEvent
        fields = ["id", "contact_id", "channel", "purpose", "sender_scope", "previous_status", "new_status",
                  "lawful_basis", "method", "actor_type", "actor_label", "occurred_at", "recorded_at",
                  "expires_at", "jurisdiction", "reason", "evidence", "source_ref"]  # fmt: skip

    def get_evidence(self, event) -> dict[str, str]:
        return {k: str(v) for k, v in event.evidence.items()}


class ContactConsentSerializer(serializers.Serializer):
    contact_id = serializers.IntegerField()
    records = ConsentRecordSerializer(many=True)
    suppressed_channels = serializers.ListField(
        child=serializers.CharField(), help_text="Channels whose address is on the suppression list."
    )


class ConsentChangeOutputSerializer(serializers.Serializer):
    event = ConsentEventSerializer()
    record = ConsentRecordSerializer()


class EventFilterSerializer(serializers.Serializer):
    contact = serializers.IntegerField(required=False)
    channel = serializers.ChoiceField(choices=ChannelKind.values, required=False)
    purpose = serializers.CharField(required=False)
    method = serializers.CharField(required=False, help_text=f"One of {', '.join(Method.values)}.")
    status = serializers.CharField(required=False, help_text="The new status. " + STATUS_HELP)
    since = AwareDateTimeField(required=False)
    until = AwareDateTimeField(required=False)


class KeywordSimulateInputSerializer(StrictInputSerializer):
    contact_id = serializers.IntegerField()
    channel = serializers.CharField(help_text=f"One of {CHANNELS}.")
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)
    language = serializers.CharField(required=False, allow_blank=True, help_text="Default: the contact's.")
    inbound_message_id = serializers.CharField(required=False, allow_blank=True)
    at = AwareDateTimeField(required=False)
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="Match and reply, change nothing."
    )


class KeywordResultSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=[*KeywordAction.values, "none"])
    handled = serializers.BooleanField(help_text="False: the message is not a keyword; pass it on.")
    keyword = serializers.CharField()
    reply = serializers.CharField(help_text="Send this back to the contact (empty: no reply).")
    language = serializers.CharField()
    events = serializers.IntegerField(help_text="Consent events written.")
    fuzzy = serializers.BooleanField()
    duplicate = serializers.BooleanField(help_text="This inbound message id was handled before.")


class CheckInputSerializer(StrictInputSerializer):
    contact_ids = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=10000)
    channel = serializers.CharField(help_text=f"One of {CHANNELS}.")
    purpose = serializers.CharField()
    at = AwareDateTimeField(required=False, help_text="Default: now.")
    is_template = serializers.BooleanField(required=False, default=False)
    sender = serializers.CharField(required=False, allow_blank=True, default="")
    automated = serializers.BooleanField(required=False, default=True)


class DecisionSerializer(serializers.Serializer):
    contact_id = serializers.IntegerField()
    outcome = serializers.ChoiceField(choices=["allow", "deny", "defer"])
    rule = serializers.CharField()
    reason = serializers.CharField()
    defer_until = serializers.DateTimeField(allow_null=True)


class CheckOutputSerializer(serializers.Serializer):
    decisions = DecisionSerializer(many=True)


class SuppressionSerializer(OutputModelSerializer):
    channel = serializers.CharField(source="channel_kind", help_text="Empty: every channel.")
    contact_id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(help_text=f"One of {', '.join(Suppression.Reason.values)}.")

    class Meta:
        model = Suppression
        fields = ["id", "channel", "address_kind", "address_hash", "address_hint", "contact_id", "reason", "note",
                  "created_by_label", "created_at"]  # fmt: skip


class SuppressionInputSerializer(StrictInputSerializer):
    address = serializers.CharField()
    channel = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Empty: every channel."
    )
    reason = serializers.ChoiceField(choices=[r for r in Suppression.Reason.values if r != "erasure"])
    note = serializers.CharField()


class SuppressionFilterSerializer(serializers.Serializer):
    address = serializers.CharField(required=False, help_text="A full address: matched by its hash.")
    channel = serializers.ChoiceField(choices=ChannelKind.values, required=False)
