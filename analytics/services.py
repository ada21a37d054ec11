"""Writes of the analytics app's settings: the price table and the lifecycle stage rules. Each
validates everything first (errors name the field), writes one row and its audit entry."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import phonenumbers
from django.core.exceptions import ValidationError
from django.db import transaction

from contacts.models import ChannelKind
from cpaas.audit import audit_record
from cpaas.tenancy import Actor

from .models import LifecycleRule, Price

CURRENCY = re.compile(r"^[A-Z]{3}$")
EVENT_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
MAX_PRICE = Decimal("99999.99999")


def _text(data, key) -> str:
    return str(data.get(key) or "").strip()


@transaction.atomic
def price_save(*, workspace, actor: Actor, data) -> Price:
    """Add or change the price of one segment on a channel kind for a country (blank: any)."""
    errors: dict[str, list[str]] = {}
    kind = _text(data, "kind").lower()
    if kind not in ChannelKind.values:
        errors["kind"] = [f"Choose a channel ({', '.join(ChannelKind.values)})."]
    country = _text(data, "country").upper()
    if country and country not in phonenumbers.SUPPORTED_REGIONS:
        errors["country"] = [
            f"'{country}' is not a country code (two letters, e.g. GB); blank for every country."
        ]
    raw = _text(data, "price").replace(",", ".")
    price = None
    try:
        price = Decimal(raw)
        if (
            not price.is_finite()
            or price < 0
            or price > MAX_PRICE
            or price != price.quantize(Decimal("0.00001"))
        ):
            raise InvalidOperation
    except InvalidOperation:
        errors["price"] = [f"'{raw}' is not a price (0 to {MAX_PRICE}, at most 5 decimals, e.g. 0.0425)."]
    currency = _text(data, "currency").upper()
    if not CURRENCY.match(currency):
        errors["currency"] = [f"'{currency}' is not a currency code (3 letters, e.g. GBP)."]
    if errors:
        raise ValidationError(errors)
    row, _ = Price.objects.update_or_create(
        workspace=workspace, kind=kind, country=country, defaults={"price": price, "currency": currency}
    )
    audit_record(workspace=workspace, actor=actor, action="analytics.price.saved", target=row,
                 data={"kind": kind, "country": country, "price": str(price), "currency": currency})  # fmt: skip
    return row


@transaction.atomic
def price_delete(*, workspace, actor: Actor, pk) -> None:
    row = Price.objects.filter(workspace=workspace, pk=pk if str(pk or "").isdigit() else None).first()
    if row is None:
        raise ValidationError({"pk": ["No such price in this workspace."]})
    audit_record(workspace=workspace, actor=actor, action="analytics.price.deleted", target=row,
                 data={"kind": row.kind, "country": row.country})  # fmt: skip
    row.delete()


@transaction.atomic
def lifecycle_rule_add(*, workspace, actor: Actor, data) -> LifecycleRule:
    errors: dict[str, list[str]] = {}
    stage = _text(data, "stage")
    if stage not in LifecycleRule.Stage.values:
        errors["stage"] = [f"Choose a stage ({', '.join(LifecycleRule.Stage.values)})."]
    source = _text(data, "source")
    if source not in LifecycleRule.Source.values:
        errors["source"] = ["Choose event or attribute."]
    key = _text(data, "key")
    if not EVENT_NAME.match(key):
        errors["key"] = ["Give the event name or attribute key (letters, digits, _ . : -, up to 100)."]
    value = _text(data, "value")[:200]
    raw_days = _text(data, "within_days")
    within = None
    if raw_days:
        if not raw_days.isdigit() or not 1 <= int(raw_days) <= 3650:
            errors["within_days"] = ["Days: a whole number from 1 to 3650, or blank for ever."]
        else:
            within = int(raw_days)
    if source == "attribute" and within:
        errors["within_days"] = ["Only an event rule has a number of days (attributes keep no history)."]
    if source == "event" and value:
        errors["value"] = ["Only an attribute rule has a value."]
    if errors:
        raise ValidationError(errors)
    rule = LifecycleRule.objects.create(workspace=workspace, stage=stage, source=source, key=key, value=value,
                                        within_days=within)  # fmt: skip
    audit_record(workspace=workspace, actor=actor, action="analytics.lifecycle_rule.added", target=rule,
                 data={"stage": stage, "source": source, "key": key, "value": value, "within_days": within})  # fmt: skip
    return rule


@transaction.atomic
def lifecycle_rule_delete(*, workspace, actor: Actor, pk) -> None:
    rule = LifecycleRule.objects.filter(
        workspace=workspace, pk=pk if str(pk or "").isdigit() else None
    ).first()
    if rule is None:
        raise ValidationError({"pk": ["No such rule in this workspace."]})
    audit_record(workspace=workspace, actor=actor, action="analytics.lifecycle_rule.deleted", target=rule,
                 data={"stage": rule.stage, "key": rule.key})  # fmt: skip
    rule.delete()
