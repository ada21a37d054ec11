"""What every app's API views share: the documented error responses (one error body, see
errors.py), validated input, pages, and the Idempotency-Key header."""

from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.response import Response


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="validation_error, conflict, not_found, not_authenticated, authentication_failed, "
        "permission_denied, throttled, ..."
    )
    message = serializers.CharField(help_text="One sentence for humans.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field path (e.g. phone, attributes.due_date, events[12].name) to messages.",
    )
    retry_after_s = serializers.IntegerField(required=False, help_text="Only on 429.")
    limit = serializers.IntegerField(
        required=False, help_text="Only on 413: the most items a request may hold."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


ERROR_TEXT = {
    400: "Invalid input: `fields` says what and where.",
    401: "Missing, unknown or revoked API token.",
    403: "The session user's role does not allow this.",
    404: "Not found in this workspace.",
    409: "The idempotency key was already used for something else.",
    413: "Too many items in one request: `limit` says how many are allowed.",
    429: "Rate limit reached; see the Retry-After header.",
}


def error_responses(*codes: int, conflict: str | None = None) -> dict:
    """OpenAPI responses for these error codes, all with the one error body."""
    text = {**ERROR_TEXT, **({409: conflict} if conflict else {})}
    return {code: OpenApiResponse(ErrorSerializer, description=text[code]) for code in codes}


class TooManyItems(exceptions.APIException):
    """A batch over its limit: 413 with the limit in the error body (`limit`)."""

    status_code = 413
    default_code = "too_many_items"

    def __init__(self, *, field: str, limit: int, given: int):
        super().__init__(
            f"A request holds at most {limit:,} {field}; this one has {given:,}. Split it into several requests."
        )
        self.limit = limit


def validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def validated_each(serializer_class, items: list, fast=None) -> tuple[list, dict[int, dict]]:
    """Check every item of a batch with one serializer instance: (validated data, None where
    invalid; index -> flat field errors). One instance, because building a serializer copies its
    fields (about 2 ms each for an event): for 10,000 items that was most of a request. `fast(raw)`,
    if given, returns the validated data of a plainly valid item (or None: the serializer decides)."""
    from .errors import flatten_errors

    checker = serializer_class()
    out, errors = [], {}
    for index, raw in enumerate(items):
        if fast is not None:
            done = fast(raw)
            if done is not None:
                out.append(done)
                continue
        try:
            out.append(checker.run_validation(raw))
        except serializers.ValidationError as exc:
            out.append(None)
            detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            errors[index] = flatten_errors(detail)
    return out, errors


def body(serializer_class, request) -> dict:
    return validated(serializer_class, request.data)


def query(serializer_class, request) -> dict:
    """Query parameters, where an empty value (?q=) means no filter."""
    return validated(
        serializer_class, {k: v for k, v in request.query_params.dict().items() if v.strip() != ""}
    )


def page(request, view, queryset, serializer_class) -> Response:
    paginator = view.pagination_class()
    items = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(items, many=True).data)


IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Same as the body's idempotency_key.",
)


def idempotency_key_merged(data: dict, request, *, max_length: int = 200) -> dict:
    """The body with the Idempotency-Key header as its idempotency_key; both given and different
    is an error on that field."""
    header = request.headers.get("Idempotency-Key", "").strip()
    if header:
        if data.get("idempotency_key") not in (None, "", header):
            raise serializers.ValidationError(
                {"idempotency_key": ["Differs from the Idempotency-Key header; send one or the other."]}
            )
        if len(header) > max_length:
            raise serializers.ValidationError({"Idempotency-Key": [f"At most {max_length} characters."]})
        data["idempotency_key"] = header
    return data


class OutputModelSerializer(serializers.ModelSerializer):
    """A model's output whose published schema admits what its rows hold. DRF drops `allow_blank`
    from read-only fields and fields declared by hand know nothing of the column, so an unset
    choice ("") broke its enum, an empty email its format, and a NULL id its non-null type. Every
    field read straight from a column takes the column's null and blank."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        # "" is a valid empty value of these columns but not a valid email/URL in the schema
        models.EmailField: serializers.CharField,
        models.URLField: serializers.CharField,
    }

    def get_fields(self):
        fields = super().get_fields()
        columns = {f.attname: f for f in self.Meta.model._meta.concrete_fields}
        columns.update({f.name: f for f in self.Meta.model._meta.concrete_fields})
        for name, field in fields.items():
            column = columns.get(field.source or name)
            if column is None or getattr(field, "many", False):
                continue
            if column.null:
                field.allow_null = True
            if column.blank and isinstance(field, serializers.CharField | serializers.ChoiceField):
                field.allow_blank = True
        return fields
