"""Logs: a request id on every line a request causes (in the web process and in the task worker's
tasks it enqueues), and personal data kept out of every line.

- `RequestIdMiddleware` takes the caller's X-Request-ID (letters, digits, `-_.`, up to 64) or
  makes one, answers it in the X-Request-ID header, and keeps it in a context variable for the
  request. `request_id_to_task` / `request_id_from_task` (django-q2's pre_enqueue / pre_execute
  signals, connected in cpaas/apps.py) carry it into the task. The engine and dispatcher loops
  work from rows, not from requests: each of their rounds gets its own id (`new_round`), and a
  message or enrolment id in both logs ties a request to the rounds that served it.
- `RequestIdFilter` puts `request_id` on every record (`-` outside a request).
- `PersonalDataFilter` masks phone numbers, email addresses and message text in the formatted
  line, the exception text included: a provider's answer quoted in a warning carries the number
  and the text. Message text cannot be recognised by its shape, so it is masked where it sits
  under a key that holds it (`"text": "..."`, `Body=...`, `'body': '...'`)."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_VALID_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def new_id() -> str:
    return uuid.uuid4().hex


def new_round(kind: str) -> None:
    """A loop's round starts: its log lines share an id of their own."""
    request_id.set(f"{kind}-{uuid.uuid4().hex[:12]}")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        rid = given if _VALID_ID.match(given) else new_id()
        token = request_id.set(rid)
        request.request_id = rid
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = rid
        return response


def request_id_to_task(sender, task, **kwargs) -> None:
    """pre_enqueue: the task remembers the request (or task) that enqueued it."""
    if request_id.get() != "-":
        task["request_id"] = request_id.get()


def request_id_from_task(sender, func, task, **kwargs) -> None:
    """pre_execute, in the worker: the task's lines carry the enqueuing request's id."""
    request_id.set(task.get("request_id") or f"task-{str(task.get('id', ''))[:12] or new_id()[:12]}")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


# --- personal data ---------------------------------------------------------------------------

TEXT_KEYS = r"text|body|Body|Text|message_text|content|caption|template_text|preview|snippet"
_JSON_TEXT = re.compile(rf"""(["'](?:{TEXT_KEYS})["']\s*:\s*)(["'])(?:\\.|(?!\2).)*\2""")
_FORM_TEXT = re.compile(rf"\b((?:{TEXT_KEYS})=)[^&\s]*")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# +44 7911 123456, +447911123456, whatsapp:+447911123456, (0)20 7946 0958, 07911 123456, and the
# bare international digits providers use (447911123456); not ids or times (fewer digits, or
# separated by ':' / 'T')
_PHONE = re.compile(
    r"(?<![\w+])(?:\+|00)\d[\d ().\-X]{5,18}[\dX]"  # international, with separators (X: a provider's redaction)
    r"|%2B\d{6,15}"  # URL-encoded +
    r"|(?<![\w.\-])0\d{2,4}[ \-]?\d{3,4}[ \-]?\d{3,4}(?![\w.\-])"  # national (0...)
    r"|(?<![\w.\-])\d{11,15}(?![\w.\-])"  # bare international digits
)


def mask(text: str) -> str:
    text = _JSON_TEXT.sub(r"\1\2[text]\2", text)
    text = _FORM_TEXT.sub(r"\1[text]", text)
    text = _EMAIL.sub("[email]", text)
    return _PHONE.sub("[phone]", text)


class PersonalDataFilter(logging.Filter):
    """On the handlers: the formatted message, masked (the record is shared with the handlers
    after this one, Sentry's included: they get it masked too). The exception's text is masked
    by the formatters below, which leave the exception itself on the record for Sentry."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to the formatter to report
            return True
        record.msg, record.args = mask(message), None
        return True


class TextFormatter(logging.Formatter):
    def formatException(self, ei) -> str:
        return mask(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return mask(super().formatStack(stack_info))


def _json_formatter():
    from pythonjsonlogger.json import JsonFormatter as Base

    class JsonFormatter(Base):
        def formatException(self, ei) -> str:
            return mask(super().formatException(ei))

        def formatStack(self, stack_info: str) -> str:
            return mask(super().formatStack(stack_info))

    return JsonFormatter


def JsonFormatter(*args, **kwargs):  # noqa: N802 (a factory named as the class it makes, for LOGGING's "()")
    """pythonjsonlogger's, with the exception's text masked; imported late (settings load this)."""
    return _json_formatter()(*args, **kwargs)
