"""The one way JSON that comes from outside is read: API bodies (cpaas.api.parsers), page views,
form fields, webhooks and provider answers.

`json.loads` alone turns hostile input into 500s or unstorable rows: 1,000 nested arrays raise
RecursionError (not a ValueError), and NaN, Infinity, "\\u0000" and lone surrogates parse fine but
no PostgreSQL jsonb column (nor any UTF-8 text) can hold them. `json_parse` refuses all of these
with a JSONInputError, which is a json.JSONDecodeError (so a ValueError): callers that already
catch those keep working, and its message says what is wrong and where."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

MAX_DEPTH = 32  # deeper than any graph, event or setting we use (graphs reach about 8)

# A JSON string (escapes included) or a bracket; used only to find where input is too deep.
_TOKENS = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]')
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONInputError(json.JSONDecodeError):
    """Input that is not JSON we accept. `str()` names the problem and its line and column."""


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def json_parse(raw: str | bytes, *, max_bytes: int | None = None, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON text (bytes are read as UTF-8) or raise JSONInputError."""
    limit = max_bytes if max_bytes is not None else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and len(raw) > limit:
        raise JSONInputError(f"The JSON is {len(raw):,} bytes; at most {limit:,} bytes are accepted", "", 0)
    if isinstance(raw, bytes | bytearray):
        try:
            text = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JSONInputError("The JSON is not UTF-8 text", "", exc.start) from None
    else:
        text = raw
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise _too_deep(text, max_depth) from None
    except json.JSONDecodeError as exc:
        raise JSONInputError(exc.msg, text, exc.pos) from None
    except ValueError as exc:  # a refused constant
        raise JSONInputError(str(exc), text, _constant_position(text)) from None
    if _depth_exceeds(value, max_depth):
        raise _too_deep(text, max_depth)
    bad = _unstorable_text(value, text)
    if bad:
        raise JSONInputError(bad, text, 0)
    return value


def _depth_exceeds(value: Any, max_depth: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _too_deep(text: str, max_depth: int) -> JSONInputError:
    depth, pos = 0, 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                pos = match.start()
                break
        elif token in "]}":
            depth -= 1
    return JSONInputError(f"Nested more than {max_depth} levels deep", text, pos)


def _constant_position(text: str) -> int:
    match = re.search(r"-?\b(NaN|Infinity)\b", text)
    return match.start() if match else 0


def _unstorable_text(value: Any, text: str) -> str:
    """Why a string (key or value) cannot be stored, or "". Only walks the value when the text
    holds the escape that could produce one, so ordinary input costs two substring searches."""
    nul, surrogate = "\\u0000" in text, bool(_SURROGATE_ESCAPE.search(text))
    if not (nul or surrogate):
        return ""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if nul and "\x00" in item:
                return "A text contains the NUL character (\\u0000), which cannot be stored"
            if surrogate and _SURROGATE.search(item):
                return "A text contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is not a character"
    return ""


def json_problem(exc: JSONInputError) -> str:
    """One sentence for people: what is wrong and where (line and column when there is text)."""
    if exc.doc:
        return f"{exc.msg} (line {exc.lineno}, column {exc.colno})."
    return f"{exc.msg}."


class CheckedDecoder(json.JSONDecoder):
    """json_parse as a decoder class, for APIs that take one (`json.loads(cls=...)`, forms.JSONField)."""

    def decode(self, s, _w=None):
        return json_parse(s)


class JSONFormField(forms.JSONField):
    """forms.JSONField reading through json_parse, its error saying what is wrong and where."""

    def __init__(self, **kwargs):
        kwargs.setdefault("decoder", CheckedDecoder)
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, str) and value not in self.empty_values and not self.disabled:
            try:
                json_parse(value)
            except JSONInputError as exc:
                raise ValidationError(f"Not valid JSON: {json_problem(exc)}", code="invalid") from None
        return super().to_python(value)
