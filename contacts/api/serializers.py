"""Input, filter and output serializers of the contacts and events API.

Input serializers only check the shape of a body (types, unknown fields); the rules about
values (phone numbers, time zones, attribute types...) live in contacts/validation.py and are
applied by the services, so the API, the forms and the CSV import all say the same thing."""

from collections.abc import Mapping

from django.utils import timezone
from rest_framework import serializers

from contacts.models import ADDRESS_KINDS, ChannelKind, Contact, Event
from cpaas.api.common import (
    ErrorSerializer,  # noqa: F401  (re-exported: apps above import it from here)
    OutputModelSerializer,
)

CHANNELS = ", ".join(ChannelKind.values)


class StrictInputSerializer(serializers.Serializer):
    """Rejects fields it does not know (a typo such as `phone_number` is an error, not ignored)."""

    allowed_extra: frozenset[str] = frozenset()

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields) - self.allowed_extra)
            if unknown:
                known = ", ".join(self.fields)
                raise serializers.ValidationError(
                    {key: [f"Unknown field '{key}' (known fields: {known})."] for key in unknown}
                )
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that must carry its time zone: a naive time is ambiguous."""

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            raise serializers.ValidationError("Give a time zone (e.g. 2026-11-22T10:00:00Z).")
        return super().enforce_timezone(value)


def _text(**kwargs):
    return serializers.CharField(required=False, allow_blank=True, allow_null=True, **kwargs)


# --- contacts -------------------------------------------------------------------------------


class ContactInputSerializer(StrictInputSerializer):
    """A contact's fields. On create at least one of phone, email, external_id or an address is
    needed; on update (PATCH, upsert) only the fields sent change."""

    external_id = _text(help_text="Your system's id for the contact; unique in the workspace.")
    first_name = _text()
    last_name = _text()
    phone = _text(help_text="Any format; stored as E.164. Local numbers use the workspace's country.")
    email = _text()
    language = _text(help_text="ISO 639-1, e.g. en or pt-br.")
    timezone = _text(help_text="IANA time zone, e.g. Europe/London.")
    preferred_channel = _text(help_text=f"One of {CHANNELS}.")
    addresses = serializers.DictField(
        child=serializers.CharField(allow_blank=True, allow_null=True),
        required=False,
        allow_null=True,
        help_text=f"Per channel kind ({', '.join(ADDRESS_KINDS)}): the contact's id on that channel.",
    )
    attributes = serializers.DictField(
        required=False,
        allow_null=True,
        help_text="Custom attributes defined in Contacts → Attributes, typed by their definition. "
        "null removes a value.",
    )
    tags = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        allow_null=True,
        help_text="Tag names; replaces the contact's tags. Unknown tags are created.",
    )
    is_vulnerable = serializers.BooleanField(required=False)
    vulnerability_note = _text()


class ContactOutputSerializer(OutputModelSerializer):
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    addresses = serializers.DictField(child=serializers.CharField())
    attributes = serializers.DictField()

    class Meta:
        model = Contact
        fields = [
            "id",
            "external_id",
            "first_name",
            "last_name",
            "phone",
            "email",
            "language",
            "timezone",
            "preferred_channel",
            "addresses",
            "attributes",
            "tags",
            "is_vulnerable",
            "vulnerability_note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ContactBatchInputSerializer(serializers.Serializer):
    contacts = ContactInputSerializer(
        many=True,
        help_text="At most 10,000 contacts, each found by external_id (or, without one, by phone): "
        "created when none has it, else updated (only the fields sent change).",
    )
    all_or_nothing = serializers.BooleanField(
        default=True,
        help_text="true (default): one invalid contact and nothing is written (400 naming each by "
        "position). false: the valid ones are written and each invalid one is reported in its result.",
    )


class ContactBatchItemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the contact in the request.")
    status = serializers.ChoiceField(
        choices=["created", "updated", "unchanged", "invalid"],
        help_text="unchanged: the contact already had these values (nothing written).",
    )
    contact_id = serializers.IntegerField(allow_null=True)
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Only for invalid: field to messages.",
    )


class ContactBatchOutputSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    invalid = serializers.IntegerField()
    results = ContactBatchItemSerializer(many=True)


class QueryFilterSerializer(StrictInputSerializer):
    """Query parameters; the paginator reads page and page_size itself."""

    allowed_extra = frozenset({"page", "page_size"})


class ContactFilterSerializer(QueryFilterSerializer):
    q = serializers.CharField(required=False, help_text="Words in name, email, external id or phone.")
    tag = serializers.CharField(required=False, help_text="Tag name.")
    segment = serializers.IntegerField(required=False, help_text="Saved segment id.")
    language = serializers.CharField(required=False)
    channel = serializers.ChoiceField(
        choices=ChannelKind.values, required=False, help_text="Preferred channel."
    )
    vulnerable = serializers.BooleanField(required=False, allow_null=True, default=None)
    external_id = serializers.CharField(required=False, help_text="Exact external id.")
    phone = serializers.CharField(required=False, help_text="Exact phone, any format.")
    updated_since = serializers.DateTimeField(
        required=False, help_text="ISO 8601; contacts updated at or after this time (UTC if no zone)."
    )


# --- events ---------------------------------------------------------------------------------


class ContactRefSerializer(StrictInputSerializer):
    """Which contact an event is about: exactly one of id, external_id or phone."""

    id = serializers.IntegerField(required=False, help_text="The contact's id (must exist).")
    external_id = serializers.CharField(
        required=False, max_length=120, help_text="Your id; a contact is created when none has it."
    )
    phone = serializers.CharField(
        required=False, max_length=40, help_text="Any format; a contact is created when none has it."
    )

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError("Give exactly one of id, external_id or phone.")
        return attrs


class EventInputSerializer(StrictInputSerializer):
    contact = ContactRefSerializer()
    name = serializers.CharField(max_length=100, help_text="e.g. signup or payment_completed.")
    properties = serializers.DictField(required=False, allow_null=True, help_text="Any JSON object.")
    occurred_at = AwareDateTimeField(
        required=False, allow_null=True, help_text="ISO 8601 with a time zone; default: now."
    )
    idempotency_key = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=200,
        help_text="Unique per event in the workspace: a replay with the same key records nothing new.",
    )


_EVENT_FIELDS = frozenset({"contact", "name", "properties", "occurred_at", "idempotency_key"})
_REF_LIMITS = {"external_id": 120, "phone": 40}


def event_fast_checked(raw) -> dict | None:
    """EventInputSerializer's validated data for the plain shape of an event, without DRF's
    per-field machinery (about 0.2 ms an event: most of a 10,000-event batch's checking); None for
    anything else (a time to parse, a wrong type, too long...), which the serializer then checks
    and words the errors for. Only ever accepts what the serializer accepts, normalised alike
    (text trimmed)."""
    if type(raw) is not dict or not raw.keys() <= _EVENT_FIELDS or raw.get("occurred_at") is not None:
        return None
    contact, name = raw.get("contact"), raw.get("name")
    if type(contact) is not dict or len(contact) != 1 or type(name) is not str:
        return None
    ((kind, value),) = contact.items()
    if kind == "id":
        if type(value) is not int:
            return None
    elif kind in _REF_LIMITS and type(value) is str:
        value = value.strip()
        if not value or len(value) > _REF_LIMITS[kind]:
            return None
    else:
        return None
    name = name.strip()
    if not name or len(name) > 100:
        return None
    out = {"contact": {kind: value}, "name": name}
    if "properties" in raw:
        properties = raw["properties"]
        if properties is not None and type(properties) is not dict:
            return None
        out["properties"] = properties
    if "occurred_at" in raw:
        out["occurred_at"] = None
    if "idempotency_key" in raw:
        key = raw["idempotency_key"]
        if key is not None:
            if type(key) is not str or len(key.strip()) > 200:
                return None
            key = key.strip()
        out["idempotency_key"] = key
    return out


class EventBatchInputSerializer(serializers.Serializer):
    events = EventInputSerializer(many=True, help_text="At most 10,000 events.")


class EventOutputSerializer(OutputModelSerializer):
    contact = serializers.IntegerField(source="contact_id", read_only=True, help_text="Contact id.")
    properties = serializers.DictField()

    class Meta:
        model = Event
        fields = [
            "id",
            "contact",
            "name",
            "properties",
            "occurred_at",
            "received_at",
            "source",
            "idempotency_key",
        ]
        read_only_fields = fields


class EventBatchItemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the event in the request.")
    status = serializers.ChoiceField(
        choices=["created", "duplicate"],
        help_text="duplicate: the idempotency key was seen before; the first event is returned.",
    )
    event_id = serializers.IntegerField()
    contact_id = serializers.IntegerField()
    contact_created = serializers.BooleanField(
        help_text="The contact was created by this batch (identified by external_id or phone)."
    )


class EventBatchOutputSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    contacts_created = serializers.IntegerField()
    lag_s = serializers.FloatField(
        help_text="How long the oldest journey step due now has waited for the engine (0 when it keeps up). "
        "Events are accepted whatever it is: they are stored, and enter their journeys as the engine catches up."
    )
    results = EventBatchItemSerializer(many=True)


class EventFilterSerializer(QueryFilterSerializer):
    name = serializers.CharField(required=False, help_text="Exact event name.")
    contact = serializers.IntegerField(required=False, help_text="Contact id.")
    since = serializers.DateTimeField(
        required=False, help_text="ISO 8601; events that occurred at or after (UTC if no zone)."
    )
    until = serializers.DateTimeField(required=False, help_text="ISO 8601; events that occurred before.")
