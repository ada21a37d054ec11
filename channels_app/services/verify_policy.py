"""A workspace's defences against SMS pumping for OTP verification (the VerifyPolicy row, or
its defaults): the countries phone codes may go to, a cooldown between two codes to the same
number, and sliding-window limits per number, per end-user IP, per destination prefix
(+country code and 4 digits: a burst on one prefix is how pumping shows itself, as Twilio's
Fraud Guard watches prefixes) and per workspace.

Over a limit is not a refusal of the person: `VerificationRateLimited` says which limit and
when it frees up (`retry_after_s`, from the oldest verification still counted), the API answers
429 with Retry-After and a journey's otp.verify waits and tries again. A country the workspace
does not verify is a refusal (a field error)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import math

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from phonenumbers import geocoder

from cpaas.audit import audit_record
from cpaas.models import Workspace
from cpaas.tenancy import Actor

from ..models import Verification, VerifyPolicy

WINDOW = dt.timedelta(minutes=10)  # per number, IP and prefix
MINUTE = dt.timedelta(minutes=1)  # per workspace
LIMITS = {  # field: (low, high)
    "per_minute": (1, 1_000_000),
    "per_number": (1, 1000),
    "per_ip": (1, 1_000_000),
    "per_prefix": (1, 1_000_000),
    "resend_cooldown_s": (0, 3600),
}
PREFIX_DIGITS = 4


class VerificationRateLimited(ValidationError):
    """Too many verifications for a number, IP, prefix or the workspace, or a resend inside the
    cooldown: try again after `retry_after_s` (the API answers 429 with Retry-After)."""

    api_code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int, field: str = "to"):
        super().__init__({field: [message]})
        self.retry_after_s = max(1, int(retry_after_s))


# --- reading --------------------------------------------------------------------------------------


def verify_policy_get(*, workspace: Workspace) -> VerifyPolicy:
    """The workspace's policy, or the defaults (unsaved) while it has never been changed."""
    return VerifyPolicy.objects.filter(workspace=workspace).first() or VerifyPolicy(workspace=workspace)


def busiest_prefixes(*, workspace: Workspace, now: dt.datetime, limit: int = 10) -> list[dict]:
    """Destination prefixes by verifications in the last hour: where pumping would show."""
    return list(
        Verification.objects.filter(workspace=workspace, created_at__gt=now - dt.timedelta(hours=1))
        .exclude(prefix="")
        .values("prefix", "country")
        .annotate(count=Count("id"))
        .order_by("-count", "prefix")[:limit]
    )


def phone_facts(address: str) -> tuple[str, str]:
    """(ISO region, +prefix) of an E.164 address; ("", "") for an email or anything else."""
    if not address.startswith("+"):
        return "", ""
    try:
        number = phonenumbers.parse(address)
    except phonenumbers.NumberParseException:
        return "", ""
    region = phonenumbers.region_code_for_number(number) or phonenumbers.region_code_for_country_code(
        number.country_code
    )
    region = "" if region in (None, "ZZ", "001") else region
    prefix = f"+{number.country_code}{str(number.national_number)[:PREFIX_DIGITS]}"
    return region, prefix


def _country_name(region: str) -> str:
    code = phonenumbers.country_code_for_region(region)
    example = phonenumbers.example_number(region)
    name = geocoder.country_name_for_number(example, "en") if example else ""
    return f"{name or region} ({region}, +{code})"


def client_ip_clean(value) -> str | None:
    if value in (None, ""):
        return None
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise ValidationError({"client_ip": [f"'{value}' is not an IPv4 or IPv6 address."]}) from None


# --- checking a start or a resend ---------------------------------------------------------------


def _retry_after(qs: QuerySet, limit: int, window: dt.timedelta, now: dt.datetime) -> int | None:
    """None while fewer than `limit` verifications are in the window; else the seconds until
    enough of them have left it to allow one more."""
    recent = qs.filter(created_at__gt=now - window)
    count = recent.count()
    if count < limit:
        return None
    oldest = recent.order_by("created_at", "id").values_list("created_at", flat=True)[count - limit]
    return max(1, math.ceil((oldest + window - now).total_seconds()))


def cooldown_check(*, policy: VerifyPolicy, last_sent_at: dt.datetime | None, now: dt.datetime) -> None:
    if last_sent_at is None or not policy.resend_cooldown_s:
        return
    wait = policy.resend_cooldown_s - (now - last_sent_at).total_seconds()
    if wait > 0:
        raise VerificationRateLimited(
            f"A new code can be sent {policy.resend_cooldown_s} s after the last one; "
            f"try again in {math.ceil(wait)} s.",
            math.ceil(wait),
        )


def start_check(
    *,
    workspace: Workspace,
    address: str,
    client_ip: str | None,
    now: dt.datetime,
    fallbacks: list[str] = (),
) -> tuple[str, str]:
    """Raise when a verification to `address` (and the `fallbacks` addresses its later channels
    would reach) may not start now; else its (country, prefix), from the first phone number.
    Cheapest refusal first: the countries, then the limits, narrowest first."""
    policy = verify_policy_get(workspace=workspace)
    phones = [facts for facts in map(phone_facts, [address, *fallbacks]) if facts[1]]
    for country, _ in phones:
        if country and policy.countries and country not in policy.countries:
            raise ValidationError(
                {
                    "to": [
                        f"Verifications to {_country_name(country)} are not enabled in this workspace "
                        f"(allowed: {', '.join(policy.countries)}; Messages → Verify → Settings)."
                    ]
                }
            )
    country, prefix = phones[0] if phones else ("", "")
    ours = Verification.objects.filter(workspace=workspace)
    last = ours.filter(address=address).order_by("-created_at", "-id").first()
    if last is not None and last.status != Verification.Status.APPROVED:  # a new code = a resend
        cooldown_check(policy=policy, last_sent_at=last.last_sent_at or last.created_at, now=now)
    checks = [
        (ours.filter(address=address), policy.per_number, WINDOW, f"to {address}", "to"),
        (ours.filter(client_ip=client_ip), policy.per_ip, WINDOW, f"from IP {client_ip}", "client_ip")
        if client_ip
        else None,
        (
            ours.filter(prefix=prefix),
            policy.per_prefix,
            WINDOW,
            f"to numbers starting {prefix} (an unusual burst on one prefix is how SMS pumping shows)",
            "to",
        )
        if prefix
        else None,
        (ours, policy.per_minute, MINUTE, "in this workspace", "to"),
    ]
    for check in filter(None, checks):
        qs, limit, window, what, field = check
        wait = _retry_after(qs, limit, window, now)
        if wait is not None:
            per = "per minute" if window == MINUTE else "per 10 minutes"
            raise VerificationRateLimited(
                f"At most {limit:,} verifications {per} {what}; try again in {wait} s.", wait, field
            )
    return country, prefix


# --- changing the policy ------------------------------------------------------------------------


def _clean(data: dict) -> dict:
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Send an object of settings."]})
    known = {"countries", *LIMITS}
    errors: dict[str, list[str]] = {
        k: [f"Unknown setting (known: {', '.join(sorted(known))})."] for k in data if k not in known
    }
    clean: dict = {}
    if "countries" in data:
        value = data["countries"]
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            errors["countries"] = ['A list of ISO 3166 country codes, e.g. ["GB", "IE"]; empty for all.']
        else:
            codes = [c.strip().upper() for c in value if c.strip()]
            bad = [c for c in codes if c not in phonenumbers.SUPPORTED_REGIONS]
            if bad:
                errors["countries"] = [f"Unknown country code '{bad[0]}' (ISO 3166, e.g. GB, FR, US)."]
            clean["countries"] = list(dict.fromkeys(codes))
    for field, (low, high) in LIMITS.items():
        if field in data:
            value = data[field]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                errors[field] = [f"A whole number from {low:,} to {high:,}."]
            else:
                clean[field] = value
    if errors:
        raise ValidationError(errors)
    return clean


@transaction.atomic
def verify_policy_update(*, workspace: Workspace, actor: Actor, data: dict, now: dt.datetime) -> VerifyPolicy:
    """Change some settings (the others keep their values); all or nothing."""
    clean = _clean(data)
    policy, _ = VerifyPolicy.objects.select_for_update().get_or_create(workspace=workspace)
    before = {k: getattr(policy, k) for k in clean}
    for field, value in clean.items():
        setattr(policy, field, value)
    policy.updated_at = now
    policy.save()
    audit_record(
        workspace=workspace,
        actor=actor,
        action="channels.verify_policy.changed",
        target=policy,
        data={"before": before, "after": clean},
        at=now,
    )
    return policy
