"""The published schema documents every error answer an operation can give, in the one error body
(cpaas.api.errors), so clients and schemathesis see no undocumented status. Views document what
is particular to them (a 409, a publish refusal); this hook adds what every operation shares."""

from __future__ import annotations

ERROR_REF = {"$ref": "#/components/schemas/Error"}
SHARED = {
    "400": "Invalid input: `fields` says what and where.",
    "401": "Missing, unknown or revoked API token.",
    "403": "The session user's role does not allow this.",
    "404": "Not found in this workspace (or a page past the end).",
    "413": "The body is larger than the server accepts (DATA_UPLOAD_MAX_MEMORY_SIZE).",
    "415": "The body is not JSON.",
    "429": "Rate limit reached; see the Retry-After header.",
}


def _answers(path: str, operation: dict) -> list[str]:
    params = operation.get("parameters") or []
    body = "requestBody" in operation
    codes = ["401", "403", "429"]
    if body or any(p.get("in") == "query" for p in params):
        codes.append("400")  # any query parameter can be malformed (a page that is not a number too)
    if "{" in path or any(p.get("name") == "page" for p in params):
        codes.append("404")
    if body:
        codes += ["413", "415"]
    return codes


def document_error_answers(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the shared error answers to every /api/ operation."""
    for path, item in (result.get("paths") or {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            if method not in {"get", "put", "patch", "post", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code in _answers(path, operation):
                responses.setdefault(
                    code,
                    {"description": SHARED[code], "content": {"application/json": {"schema": ERROR_REF}}},
                )
    return result
