"""The product's icons: Lucide's SVG sprite (static/vendor/lucide/, ISC licence), drawn with
<svg><use href="sprite.svg#name">, never emoji (machines without an emoji font show empty
boxes). Node types name their icon in their module (`Node.icon`); channels and pages here."""

from __future__ import annotations

from django.templatetags.static import static

SPRITE = "vendor/lucide/sprite.svg"

CHANNEL_ICONS = {
    "sms": "message-square-text",
    "whatsapp": "message-circle",
    "rcs": "messages-square",
    "voice": "phone",
    "email": "mail",
    "viber": "phone-call",
    "messenger": "message-circle-more",
    "push": "bell",
}


def sprite_url() -> str:
    return static(SPRITE)


def channel_icon(kind: str) -> str:
    return CHANNEL_ICONS.get(kind, "radio")
