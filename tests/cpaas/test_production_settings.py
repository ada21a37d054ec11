"""The production settings pass Django's deployment checklist (HSTS, SSL redirect, secure cookies,
a long SECRET_KEY) with warnings counted as failures, as scripts/test.sh runs it."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code_or_args: list[str]) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},  # browser tests' switch
        "DJANGO_SETTINGS_MODULE": "cpaas.settings.production",
        "DATABASE_URL": "sqlite:///:memory:",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "journeys.example.com",
    }
    return subprocess.run([sys.executable, *code_or_args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_check_deploy_is_clean_at_warning_level():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_answers_https_only_with_hsts_and_the_csp():
    code = (
        "import django; django.setup();"
        "from django.test import Client;"
        "r = Client(HTTP_HOST='journeys.example.com').get('/login/');"
        "print(r.status_code, r['Location']);"
        "r = Client(HTTP_HOST='journeys.example.com', HTTP_X_FORWARDED_PROTO='https').get('/login/');"
        "print(r.status_code); print(r['Strict-Transport-Security']); print(r['Content-Security-Policy'])"
    )
    lines = _run(["-c", code]).stdout.splitlines()
    assert lines[0] == "301 https://journeys.example.com/login/"
    assert lines[1] == "200"
    assert lines[2] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self' 'nonce-" in lines[3]
