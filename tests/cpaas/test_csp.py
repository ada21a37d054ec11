"""The Content-Security-Policy (django-csp) on every response, with a nonce that htmx's script
tag carries, and templates that need no inline script, handler or style (so the policy holds
without 'unsafe-inline'). The browser side is tests/browser/test_csp.py."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


def test_pages_carry_a_nonce_policy_that_htmx_uses(admin_client):
    response = admin_client.get(reverse("contact_list"))
    csp = _directives(response)
    nonce = re.search(r"'nonce-([^']+)'", " ".join(csp["script-src"])).group(1)
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert "'unsafe-inline'" not in csp["style-src"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert f'htmx-2.min.js" defer nonce="{nonce}"' in response.content.decode()
    assert '"allowEval": false' in response.content.decode()


def test_the_log_in_page_has_the_policy_too():
    assert "script-src" in _directives(Client().get(reverse("login")))


def test_no_page_may_be_framed_not_even_the_simulator(admin_client):
    # the editor's test run has its own phone in the panel: nothing is framed any more
    csp = _directives(admin_client.get(reverse("simulator")))
    assert csp["frame-ancestors"] == ["'none'"]


TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("*/templates")]
FORBIDDEN = {
    "inline event handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.S),
    "hx-on (htmx runs it with eval)": re.compile(r"\shx-on[:\-]"),
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/(ld\+)?json)[^>]*>", re.S),
    "style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.S),
    "javascript: URL": re.compile(r"javascript:", re.I),
    "js: value (eval)": re.compile(r"hx-vals=['\"]\s*js:"),
}


def test_no_template_needs_inline_script_or_style():
    problems = []
    for folder in TEMPLATE_DIRS:
        for path in folder.rglob("*.html"):
            text = path.read_text(encoding="utf-8")
            for what, pattern in FORBIDDEN.items():
                for match in pattern.finditer(text):
                    line = text.count("\n", 0, match.start()) + 1
                    problems.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert problems == []


def test_csp_is_on_in_every_settings_module():
    assert "csp.middleware.CSPMiddleware" in settings.MIDDLEWARE
