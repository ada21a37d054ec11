"""Channel credentials at rest: Fernet (AES-128-CBC + HMAC-SHA256) keyed from
CHANNEL_CREDENTIALS_KEY (comma-separated Fernet keys, newest first, for rotation) or, when it is
unset, derived from SECRET_KEY. Credentials are never shown back in full: `mask()`."""

from __future__ import annotations

import base64
import hashlib
import json
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class CredentialsUnreadable(Exception):
    """The stored credentials were encrypted with a key this process does not have."""


def _fernet() -> MultiFernet:
    configured = getattr(settings, "CHANNEL_CREDENTIALS_KEY", None) or os.environ.get(
        "CHANNEL_CREDENTIALS_KEY", ""
    )
    keys = [k.strip() for k in configured.split(",") if k.strip()]
    if not keys:
        digest = hashlib.sha256(b"channels_app.credentials:" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt_json(data: dict) -> str:
    if not data:
        return ""
    return _fernet().encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise CredentialsUnreadable(
            "The channel's credentials cannot be decrypted with this server's key "
            "(CHANNEL_CREDENTIALS_KEY or SECRET_KEY changed). Enter them again."
        ) from None


def mask(value: str) -> str:
    """`ACb3…9f21` for long values, `••••` for short ones: enough to recognise, never to use."""
    value = str(value or "")
    if not value:
        return ""
    if len(value) < 12:
        return "••••"
    return f"{value[:4]}…{value[-4:]}"
