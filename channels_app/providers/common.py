"""What JSON-over-HTTP adapters share: one call through `http.py` (total deadline, public
addresses only) whose failures are already mapped to `SendResult`s, the usual reading of a
refusal (429/503 retried after Retry-After, other 5xx ambiguous, the rest failed with the
provider's own code), an answer in a shape we do not know (failed, the raw answer kept for
support), and the webhook chores: a JSON body, a shared-secret header, an ISO time."""

from __future__ import annotations

import datetime as dt
import email.utils
import hmac
import json
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from cpaas.jsoninput import json_parse

from .. import conf
from . import http
from .base import MalformedPayload, SendResult, WebhookRequest

RAW_KEPT = 300  # characters of an unreadable answer kept in the message's error reason


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    data: object  # the parsed JSON body, or None when it is not JSON
    raw: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def get(self, key: str, default=None):
        return self.data.get(key, default) if isinstance(self.data, dict) else default

    def excerpt(self) -> str:
        return self.raw[:RAW_KEPT].decode(errors="replace") or "(empty body)"


def call_json(
    label: str,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    payload: object = None,
    deadline: float | None = None,
) -> Answer | SendResult:
    """The provider's answer, or the SendResult that says why there is none: refused address
    (failed), not sent (retried), or sent with the answer lost (ambiguous)."""
    body = json.dumps(payload).encode() if payload is not None else None
    headers = {"Accept": "application/json", **headers}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if deadline is None:
        deadline = time.monotonic() + float(conf.get("CHANNELS_SEND_DEADLINE_S"))
    try:
        status, answer_headers, raw = http.call(method, url, headers=headers, body=body, deadline=deadline)
    except http.Refused as exc:
        return SendResult.failed("refused", f"The channel's API base may not be called: {exc}.")
    except http.NotSent as exc:
        return SendResult.retry("network", f"Could not reach {label}: {exc}")
    except http.Ambiguous as exc:
        return SendResult.unknown("no_answer", f"{label} took the request but gave no answer: {exc}.")
    try:
        data = json_parse(raw) if raw.strip() else None
    except ValueError:
        data = None
    return Answer(status, {k.lower(): v for k, v in answer_headers.items()}, data, raw)


def retry_after_s(headers: dict[str, str]) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), None when absent or unreadable."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def refusal(label: str, answer: Answer, code: str, reason: str) -> SendResult:
    """A non-2xx answer. 429 and 503 mean the provider did not process it: sent again after
    Retry-After. Another 5xx may come from behind the provider's front door after it took the
    message: ambiguous. Anything else is the provider saying no, with its own code."""
    code = code or str(answer.status)
    reason = reason or f"HTTP {answer.status}: {answer.excerpt()}"
    if answer.status in (429, 503):
        return SendResult.retry(str(answer.status), reason, retry_after_s=retry_after_s(answer.headers))
    if answer.status >= 500:
        return SendResult.unknown(str(answer.status), f"{label} answered {answer.status} ({reason}).")
    return SendResult.failed(code[:40], reason[:500])


def unexpected(label: str, answer: Answer) -> SendResult:
    """An answer that is not the shape the provider documents: nothing in it says the message
    was taken (a proxy's page, a changed API), so it fails, with what came back kept."""
    return SendResult.failed(
        "unexpected_answer",
        f"{label} answered HTTP {answer.status} in a shape we do not know: {answer.excerpt()}",
    )


# --- webhooks ------------------------------------------------------------------------------


def json_body(request: WebhookRequest) -> dict:
    try:
        data = json_parse(request.body or b"")
    except ValueError:
        raise MalformedPayload("The body is not JSON.") from None
    if not isinstance(data, dict):
        raise MalformedPayload("The body is not a JSON object.")
    return data


def header_matches(request: WebhookRequest, name: str, expected: str) -> bool:
    """A provider that proves itself with a fixed secret header (no body signature): compared in
    constant time; a missing header or an unset secret never matches."""
    given = request.headers.get(name.lower(), "")
    return bool(expected) and bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def parse_time(value) -> dt.datetime | None:
    """An ISO 8601 time as providers write it (Z, +0000 or +00:00, with or without fractions),
    aware; None when absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # +0000 -> +00:00
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def decimal_or_none(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return abs(Decimal(str(value)))
    except InvalidOperation:
        return None


def digits(address: str) -> str:
    """E.164 without the '+', as Vonage and Infobip write numbers."""
    return address[1:] if address.startswith("+") else address


def e164(address: str) -> str:
    """A number a provider wrote without '+' back in our E.164 form (ids that are not numbers,
    such as a Messenger page-scoped id, are left alone)."""
    return f"+{address}" if address.isdigit() else address


def template_values(variables: dict) -> list[str]:
    """A template's variables in their order ({"2": .., "1": ..} -> [v1, v2]): providers take a
    list where we keep numbered keys."""

    def order(key):
        return (0, int(key)) if str(key).isdigit() else (1, str(key))

    return [str(variables[k]) for k in sorted(variables, key=order)]
