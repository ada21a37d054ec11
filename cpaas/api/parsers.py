"""The API's JSON parser: cpaas.jsoninput's checks (depth, size, NaN, NUL, surrogates) for every
body, so bad JSON is a 400 `parse_error` saying what and where, never a 500."""

from django.conf import settings
from rest_framework import exceptions, parsers

from cpaas.jsoninput import JSONInputError, json_parse, json_problem


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "payload_too_large"
    default_detail = "The body is too large."


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # also when no Content-Length announced it
        raw = (stream.read() if limit is None else stream.read(limit + 1)) if stream is not None else b""
        if limit is not None and len(raw) > limit:
            from .middleware import too_large_message  # not at import: DRF's settings import us

            raise PayloadTooLarge(too_large_message())
        try:
            if encoding.lower().replace("-", "") != "utf8":
                raw = raw.decode(encoding)
            return json_parse(raw)
        except (JSONInputError, UnicodeDecodeError, LookupError) as exc:
            why = (
                json_problem(exc) if isinstance(exc, JSONInputError) else f"The body is not {encoding} text."
            )
            raise exceptions.ParseError(f"JSON parse error: {why}") from None


class EmptyFormParser(parsers.BaseParser):
    """The API speaks JSON. A form body is accepted only when it carries nothing (generic clients
    POST an empty form for actions without a body); one with fields is a 415 naming the fix, so
    form data never reaches a field that expects JSON."""

    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if self._carries_fields(raw):
            raise exceptions.UnsupportedMediaType(
                media_type or self.media_type,
                detail="The API reads JSON: send the body with Content-Type: application/json.",
            )
        return {}

    def _carries_fields(self, raw: bytes) -> bool:
        return bool(raw.strip())


class EmptyMultiPartParser(EmptyFormParser):
    media_type = "multipart/form-data"

    def _carries_fields(self, raw: bytes) -> bool:
        return b"content-disposition" in raw.lower()
