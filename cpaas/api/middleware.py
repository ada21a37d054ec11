"""Keeps the API's one error body (cpaas.api.errors) for answers Django gives outside DRF's views:
no route (404), a body over DATA_UPLOAD_MAX_MEMORY_SIZE (413), too many fields (400), a crash
(500), a CSRF refusal, and DEBUG's technical pages. Pages keep their HTML errors. A NUL character
in the path or the query is refused here once, for every view (a 400, not a database error)."""

from __future__ import annotations

from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse

from .errors import error_body

API_PREFIX = "/api/"
CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
}
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX)


def too_large_message() -> str:
    return (
        f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes; "
        "split it into smaller requests."
    )


def api_error(request, status: int, exception: Exception | None = None) -> JsonResponse:
    """The JSON error answer for `status` (and the exception Django handed its handler, if any)."""
    if isinstance(exception, RequestDataTooBig) or status == 413:
        status, code, message = 413, "payload_too_large", too_large_message()
    elif isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        code, message = "too_many_fields", f"More than {limit:,} query or form fields; send fewer."
    elif status == 404:
        code, message = "not_found", f"No API endpoint at {request.path} (see /api/docs/ for the endpoints)."
    elif status >= 500:
        code, message = "server_error", "Something went wrong on our side; it was logged. Try again later."
    else:
        code, message = CODES.get(status, "error"), f"{HTTPStatus(status).phrase}."
    return JsonResponse(error_body(code, message), status=status)


def _has_nul(request) -> bool:
    if "\x00" in request.path:
        return True
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists())


class ApiErrorMiddleware:
    """Outermost: refuses an over-large body before anything reads it, and turns any error answer
    under /api/ that is not JSON into the error body (keeping Allow, Retry-After, ...)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_api(request):
            return self.get_response(request)
        length, limit = request.META.get("CONTENT_LENGTH") or "", settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length.isdigit() and int(length) > limit:
            return api_error(request, 413)
        if _has_nul(request):
            # no text column can hold it (PostgreSQL refuses it outright): say so, whatever reads it
            message = "The path or a query parameter contains the NUL character (%00)."
            return JsonResponse(error_body("validation_error", message), status=400)
        response = self.get_response(request)
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            replaced = api_error(request, response.status_code)
            for header in KEPT_HEADERS:
                if header in response:
                    replaced[header] = response[header]
            return replaced
        return response
