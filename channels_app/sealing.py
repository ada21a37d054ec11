"""Secrets in outbound content that only the provider may see (an OTP code). The stored message
holds the content with each secret masked ("Your code is ******") and, in `Message.sealed`, the
replacements {mask: secret} encrypted with the credentials key (crypto.py). The dispatcher's
send step unseals them into the content it hands to the provider; once the message cannot be
sent again (sent or failed without a fallback still to come) `sealed` is cleared. A fallback
carries the sealed replacements on to the next kind: masks survive the adaptation of content."""

from __future__ import annotations

from .crypto import CredentialsUnreadable, decrypt_json, encrypt_json


def seal(replacements: dict[str, str]) -> str:
    return encrypt_json({"replace": replacements})


def unsealed(content, sealed: str):
    """`content` with the masks replaced by their secrets, in every string it holds."""
    if not sealed:
        return content
    try:
        pairs = decrypt_json(sealed).get("replace", {})
    except CredentialsUnreadable:
        raise SealedUnreadable(
            "This message's code cannot be decrypted with this server's key "
            "(CHANNEL_CREDENTIALS_KEY or SECRET_KEY changed)."
        ) from None
    masks = sorted(pairs, key=len, reverse=True)  # a longer mask never loses to a part of it

    def walk(value):
        if isinstance(value, str):
            for mask in masks:
                value = value.replace(mask, pairs[mask])
            return value
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(content)


class SealedUnreadable(Exception):
    """The sealed secrets were encrypted with a key this process does not have."""


def sealed_spent(message_ids: list[int]) -> None:
    """Clear the sealed secrets of these messages where no send can need them any more: not
    waiting to be (re)sent or for its outcome, and no fallback still to come from them (fallback_next moves the
    secrets to the next message itself)."""
    from .models import Message

    if not message_ids:
        return
    S = Message.Status
    Message.objects.filter(pk__in=message_ids, fallback_deadline__isnull=True).exclude(sealed="").exclude(
        # unknown: a receipt may still say it failed, and its fallback then needs the secret
        status__in=(S.QUEUED, S.DEFERRED, S.SENDING, S.UNKNOWN)
    ).update(sealed="")
