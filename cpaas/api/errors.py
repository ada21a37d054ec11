"""One error body for the whole API:

    {"error": {"code": "validation_error", "message": "...", "fields": {"phone": ["..."]}}}

Service `django.core.exceptions.ValidationError`s become 400s with their field errors."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _flatten(detail, prefix=""):
    """DRF error detail (nested dicts/lists) -> {"field.sub": ["message", ...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in _flatten(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                for k, v in _flatten(item, f"{prefix}[{index}]" if prefix else f"[{index}]").items():
                    out.setdefault(k, []).extend(v)
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


flatten_errors = _flatten  # for views that gather errors of several items themselves


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    body.update(extra)
    return {"error": body}


def exception_handler(exc, context):
    if isinstance(exc, ValidationError):
        code = getattr(exc, "api_code", None) or (
            "conflict" if type(exc).__name__.endswith("Conflict") else None
        )
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        status_code = status.HTTP_409_CONFLICT if code == "conflict" else status.HTTP_400_BAD_REQUEST
        return Response(error_body(code or "validation_error", _summary(fields), fields), status=status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        response.data = error_body("validation_error", _summary(fields), fields)
    else:
        code = getattr(exc, "default_code", "error")
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        extra = {}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            extra["retry_after_s"] = int(exc.wait)
        if getattr(exc, "limit", None) is not None:  # common.TooManyItems
            extra["limit"] = exc.limit
        response.data = error_body(str(code), str(detail), **extra)
    return response


def _summary(fields: dict) -> str:
    first = next(iter(fields.items()), None)
    if not first:
        return "Invalid input."
    name, messages = first
    where = "" if name in ("non_field_errors", "__all__") else f"{name}: "
    more = f" (and {len(fields) - 1} more field(s))" if len(fields) > 1 else ""
    return f"{where}{messages[0]}{more}"
