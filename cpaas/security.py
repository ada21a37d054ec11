"""Browser-facing security glue: the CSP nonce for templates (django-htmx's {% htmx_script %}
reads `csp_nonce`; reading it is what puts the nonce in the response's header)."""


def csp_nonce(request) -> dict:
    return {"csp_nonce": getattr(request, "csp_nonce", None)}
