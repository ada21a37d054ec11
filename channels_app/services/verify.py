"""OTP verification, like Twilio Verify: start (contact or address, channel order, code length,
expiry, locale) makes a code with `secrets`, stores only its keyed hash, and sends it with purpose
"otp" on the first channel, with the rest of the order as the message's fallback chain (so it
moves on when the code is not delivered within `fallback_after_s`, or fails). `resend` moves to
the next channel at once. `check` answers approved / incorrect while the verification is pending
and, once it is over (approved, expired, out of attempts, canceled), says so and compares nothing.

Against SMS pumping: the workspace's VerifyPolicy (verify_policy.py: countries, resend cooldown,
limits per number, IP, prefix and workspace) and at most MAX_SENDS sends per verification."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from contacts.models import Contact
from cpaas.audit import audit_record
from cpaas.locks import lock_refresh
from cpaas.models import Workspace
from cpaas.tenancy import Actor

from ..addresses import contact_address, contact_find_or_create, normalize_address
from ..models import Message, Verification
from ..sealing import seal, sealed_spent
from .messages import message_send
from .verify_policy import (
    VerificationRateLimited,
    client_ip_clean,
    cooldown_check,
    start_check,
    verify_policy_get,
)

CODE_LENGTH = (4, 10)
EXPIRY_S = (60, 3600)
FALLBACK_AFTER_S = (5, 600)
MAX_ATTEMPTS = (1, 10)
MAX_SENDS = 5
OTP_KINDS = ("sms", "whatsapp", "voice", "email", "rcs", "viber", "messenger")

TEXTS = {
    "en": "Your {workspace} verification code is {code}. It expires in {minutes} min. Never share it.",
    "fr": "Votre code de vérification {workspace} est {code}. Il expire dans {minutes} min. Ne le partagez pas.",
    "es": "Tu código de verificación de {workspace} es {code}. Caduca en {minutes} min. No lo compartas.",
    "de": "Ihr {workspace}-Bestätigungscode ist {code}. Er läuft in {minutes} Min. ab. Geben Sie ihn nicht weiter.",
    "pt": "O seu código de verificação {workspace} é {code}. Expira em {minutes} min. Não o partilhe.",
}
SPOKEN = {
    "en": "Your verification code is {digits}. Again: {digits}.",
    "fr": "Votre code de vérification est {digits}. Je répète : {digits}.",
    "es": "Tu código de verificación es {digits}. Repito: {digits}.",
    "de": "Ihr Bestätigungscode lautet {digits}. Noch einmal: {digits}.",
    "pt": "O seu código de verificação é {digits}. Repito: {digits}.",
}
SUBJECTS = {
    "en": "Your verification code",
    "fr": "Votre code de vérification",
    "es": "Tu código de verificación",
}


def code_hash(code: str, salt: str) -> str:
    key = hashlib.sha256(b"channels_app.verify:" + settings.SECRET_KEY.encode()).digest()
    return salt + "$" + hmac.new(key, f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def _code_matches(code: str, stored: str) -> bool:
    salt = stored.split("$", 1)[0]
    return hmac.compare_digest(code_hash(code, salt), stored)


def _in(value, bounds, field, errors) -> int | None:
    low, high = bounds
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        errors[field] = [f"From {low} to {high}."]
        return None
    return value


def _language(locale: str) -> str:
    base = (locale or "en").lower().replace("_", "-").split("-")[0]
    return base if base in TEXTS else "en"


def otp_content(*, kind: str, code: str, locale: str, workspace: Workspace, expiry_s: int) -> dict:
    lang = _language(locale)
    text = TEXTS[lang].format(workspace=workspace.name, code=code, minutes=max(1, expiry_s // 60))
    content = {
        "text": text,
        "voice": {"say": SPOKEN[lang].format(digits=", ".join(code)), "language": locale or "en"},
        "email": {"subject": SUBJECTS.get(lang, SUBJECTS["en"]), "body": text},
    }
    if kind == "whatsapp":  # an authentication template: allowed outside the 24-hour window
        content["template"] = {"name": "otp_verification", "language": lang, "variables": {"1": code}}
    return content


@transaction.atomic
def verification_start(
    *,
    workspace: Workspace,
    contact: Contact | None = None,
    to: str | None = None,
    channels: list[str] | None = None,
    code_length: int = 6,
    expiry_s: int = 600,
    fallback_after_s: int = 30,
    max_attempts: int = 5,
    locale: str = "en",
    client_ip: str | None = None,
    actor: Actor | None = None,
    now: dt.datetime,
) -> Verification:
    """Over a limit of the workspace's policy: VerificationRateLimited (retry_after_s) and
    nothing is written; a country the workspace does not verify: a ValidationError on `to`."""
    errors: dict[str, list[str]] = {}
    try:
        client_ip = client_ip_clean(client_ip)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    channels = list(channels or ["sms"])
    bad = [k for k in channels if k not in OTP_KINDS]
    if bad:
        errors["channels"] = [f"'{bad[0]}' cannot carry a code (use {', '.join(OTP_KINDS)})."]
    channels = [k for i, k in enumerate(channels) if k not in channels[:i]]
    code_length = _in(code_length, CODE_LENGTH, "code_length", errors)
    expiry_s = _in(expiry_s, EXPIRY_S, "expiry_s", errors)
    fallback_after_s = _in(fallback_after_s, FALLBACK_AFTER_S, "fallback_after_s", errors)
    max_attempts = _in(max_attempts, MAX_ATTEMPTS, "max_attempts", errors)
    if contact is None and not to:
        errors["to"] = ["Give a contact or an address (to)."]
    if errors:
        raise ValidationError(errors)
    first = channels[0]
    if to:
        address = normalize_address(workspace, "email" if first == "email" else "sms", to)
        if contact is None:
            contact, _ = contact_find_or_create(
                workspace, first, address, actor or Actor.system("verification")
            )
    else:
        address = contact_address(contact, first)
        if not address:
            raise ValidationError({"contact": [f"{contact.display_name} has no address for {first}."]})
    if contact.workspace_id != workspace.pk:
        raise ValidationError({"contact": ["No such contact in this workspace."]})
    country, prefix = start_check(
        workspace=workspace,
        address=address,
        client_ip=client_ip,
        now=now,
        fallbacks=[a for a in (contact_address(contact, k) for k in channels[1:]) if a],
    )
    # one pending verification per address: starting again cancels the previous one
    for old in Verification.objects.filter(
        workspace=workspace, address=address, status=Verification.Status.PENDING
    ):
        _stop_fallbacks(old)
        old.status = Verification.Status.CANCELED
        old.save(update_fields=["status"])
    code = "".join(secrets.choice("0123456789") for _ in range(code_length))
    verification = Verification.objects.create(
        workspace=workspace,
        contact=contact,
        address=address,
        channels=channels,
        code_hash=code_hash(code, secrets.token_hex(8)),
        code_length=code_length,
        locale=locale or "en",
        max_attempts=max_attempts,
        fallback_after_s=fallback_after_s,
        expires_at=now + dt.timedelta(seconds=expiry_s),
        created_at=now,
        client_ip=client_ip,
        country=country,
        prefix=prefix,
    )
    _send(verification, code, 0, now)
    if actor is not None and actor.kind != "system":
        audit_record(
            workspace=workspace,
            actor=actor,
            action="channels.verification.started",
            target=verification,
            data={"channels": channels},
            at=now,
        )
    verification.code_for_tests = code  # never stored; lets in-process callers (tests) see it
    return verification


def _masks(code: str) -> dict[str, str]:
    """What stored messages show in place of the code (written and spoken), and the code."""
    return {"*" * len(code): code, ", ".join("*" * len(code)): ", ".join(code)}


def _send(verification: Verification, code: str, index: int, now: dt.datetime) -> Message:
    """The code goes out masked in the stored message and sealed for the provider only
    (channels_app/sealing.py): message text, content, API and pages never hold it."""
    kind = verification.channels[index]
    expiry_s = int((verification.expires_at - now).total_seconds())
    key = f"verification:{verification.pk}:{verification.sends}"
    message = message_send(
        workspace=verification.workspace,
        contact=verification.contact,
        channel=kind,
        content=otp_content(
            kind=kind,
            code="*" * len(code),
            locale=verification.locale,
            workspace=verification.workspace,
            expiry_s=expiry_s,
        ),
        purpose="otp",
        origin=Message.Origin.OTP,
        origin_ref=f"verification {verification.pk}",
        idempotency_key=key,
        fallback=verification.channels[index + 1 :],
        fallback_after_s=verification.fallback_after_s,
        now=now,
    )
    # this send's messages still to go out (a blocked first one may already have a fallback)
    Message.objects.filter(
        Q(idempotency_key=key) | Q(idempotency_key__startswith=key + "~"),
        workspace=verification.workspace,
        status__in=(Message.Status.QUEUED, Message.Status.DEFERRED),
    ).update(sealed=seal(_masks(code)))
    verification.sends += 1
    verification.channel_index = index
    verification.last_message = message
    verification.last_sent_at = now
    verification.save(update_fields=["sends", "channel_index", "last_message", "last_sent_at"])
    return message


def _messages(verification: Verification):
    return Message.objects.filter(
        workspace=verification.workspace,
        origin=Message.Origin.OTP,
        origin_ref=f"verification {verification.pk}",
    )


def _stop_fallbacks(verification: Verification) -> None:
    """No more codes for this verification: its pending fallbacks are dropped, and the sealed
    code of every message that no send needs any more is cleared."""
    _messages(verification).exclude(fallback_chain=[]).update(fallback_chain=[], fallback_deadline=None)
    sealed_spent(list(_messages(verification).exclude(sealed="").values_list("pk", flat=True)))


def verification_channel(verification: Verification) -> str:
    """The kind the latest code went out on (fallbacks included)."""
    latest = _messages(verification).order_by("-created_at", "-id").values_list("kind", flat=True).first()
    return latest or verification.channels[verification.channel_index]


@transaction.atomic
def verification_resend(*, verification: Verification, now: dt.datetime) -> Verification:
    """A new code on the next channel of the order (the last one again at the end)."""
    verification = lock_refresh(verification)
    if verification.status != Verification.Status.PENDING or now >= verification.expires_at:
        over = OVER.get(verification.status, "expired")
        raise VerificationOver(f"This verification is over: {OVER_TEXT[over]}. Start a new one.", over)
    if verification.sends >= MAX_SENDS:
        wait = math.ceil((verification.expires_at - now).total_seconds())
        raise VerificationRateLimited(
            f"At most {MAX_SENDS} codes per verification: enter one of them, or start a new "
            f"verification when this one expires (in {wait} s).",
            wait,
        )
    cooldown_check(
        policy=verify_policy_get(workspace=verification.workspace),
        last_sent_at=verification.last_sent_at or verification.created_at,
        now=now,
    )
    _stop_fallbacks(verification)
    kind = verification_channel(verification)
    current = (
        verification.channels.index(kind) if kind in verification.channels else verification.channel_index
    )
    index = min(current + 1, len(verification.channels) - 1)
    code = "".join(secrets.choice("0123456789") for _ in range(verification.code_length))
    verification.code_hash = code_hash(code, secrets.token_hex(8))
    verification.save(update_fields=["code_hash"])
    _send(verification, code, index, now)
    verification.code_for_tests = code
    return verification


class VerificationOver(ValidationError):
    """A resend of a verification that is over (the API answers 404, like Twilio Verify)."""

    def __init__(self, message: str, outcome: str):
        super().__init__({"verification": [message]})
        self.outcome = outcome


OUTCOME_EVENT = "otp.check"  # the event a journey's otp.verify waits for


def _outcome_recorded(verification: Verification, outcome: str, now: dt.datetime) -> None:
    """Tell whoever waits on this verification (a journey's otp.verify, which sits above this
    app) that it ended, through the contact's event stream: an `otp.check` event without a code,
    naming the verification. Receivers read the verification's status, never this event's."""
    from contacts.services import event_record

    if verification.contact_id is None:
        return
    event_record(
        workspace=verification.workspace, contact=verification.contact, name=OUTCOME_EVENT,
        properties={"verification": verification.pk, "outcome": outcome}, source="verification",
        idempotency_key=f"verification:{verification.pk}:{outcome}", now=now,
    )  # fmt: skip


# What a check answers. The first two leave the verification pending (or fail it on the last
# attempt); the others mean it was over before this check, like Twilio Verify's 404 (20404) for
# an approved, expired or exhausted verification: nothing is compared, no attempt is counted.
APPROVED, INCORRECT = "approved", "incorrect"
OVER = {
    Verification.Status.APPROVED: "already_approved",
    Verification.Status.EXPIRED: "expired",
    Verification.Status.FAILED: "too_many_attempts",
    Verification.Status.CANCELED: "canceled",
}
OVER_TEXT = {
    "already_approved": "it was already approved; a code can be checked only once",
    "expired": "its code expired",
    "too_many_attempts": "it used up its attempts",
    "canceled": "a newer verification for the same address replaced it",
}


@transaction.atomic
def verification_check(
    *, verification: Verification, code: str, now: dt.datetime, notify: bool = True
) -> str:
    """approved | incorrect, or why the verification is over (OVER: already_approved, expired,
    too_many_attempts, canceled). When the check ends the verification (approved, failed,
    expired) an `otp.check` event records the outcome (`notify`; the journey node that checks a
    code itself does not need one). An empty code is a field error while it is pending."""
    outcome = _check(verification=verification, code=code, now=now)
    if notify and outcome["ended"]:
        _outcome_recorded(outcome["verification"], outcome["status"], now)
    return outcome["result"]


def _check(*, verification: Verification, code: str, now: dt.datetime) -> dict:
    verification = lock_refresh(verification)
    S = Verification.Status

    def answer(result: str, ended: bool = False) -> dict:
        return {"result": result, "ended": ended, "status": verification.status, "verification": verification}

    if verification.status != S.PENDING:
        return answer(OVER[verification.status])
    if now >= verification.expires_at:
        verification.status = S.EXPIRED
        verification.save(update_fields=["status"])
        _stop_fallbacks(verification)
        return answer(OVER[S.EXPIRED], True)
    code = "".join((code or "").split())
    if not code:
        raise ValidationError({"code": ["Enter the code that was sent."]})
    verification.attempts += 1
    if (
        code.isdigit()
        and len(code) == verification.code_length
        and _code_matches(code, verification.code_hash)
    ):
        verification.status, verification.approved_at = S.APPROVED, now
        verification.save(update_fields=["attempts", "status", "approved_at"])
        _stop_fallbacks(verification)
        return answer(APPROVED, True)
    ended = False
    if verification.attempts >= verification.max_attempts:
        verification.status = S.FAILED
        _stop_fallbacks(verification)
        ended = True
    verification.save(update_fields=["attempts", "status"])
    return answer(INCORRECT, ended)
