"""Segment definitions: saved filters over contact fields, typed attributes, tags and events.

{"match": "all" | "any",
 "rules": [{"field": "attribute", "key": "plan", "op": "eq", "value": "gold"},
           {"field": "tag", "op": "has", "value": "vip"},
           {"field": "event", "op": "performed", "value": "signup", "within_days": 30},
           {"field": "language", "op": "eq", "value": "fr"}]}
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from .models import AttributeDefinition, Contact, Event
from .validation import coerce_attribute

CONTACT_FIELDS = {
    "language": "Language",
    "preferred_channel": "Preferred channel",
    "timezone": "Time zone",
    "phone": "Phone",
    "email": "Email",
    "is_vulnerable": "Vulnerable",
}
OPS_BY_TYPE = {
    "text": ["eq", "neq", "contains", "is_set", "is_not_set"],
    "number": ["eq", "neq", "gt", "gte", "lt", "lte", "is_set", "is_not_set"],
    "date": [
        "eq",
        "gt",
        "gte",
        "lt",
        "lte",
        "in_past",
        "in_future",
        "within_last_days",
        "within_next_days",
        "is_set",
        "is_not_set",
    ],
    "boolean": ["is_true", "is_false"],
}
OP_LABELS = {
    "eq": "is",
    "neq": "is not",
    "contains": "contains",
    "gt": "greater than / after",
    "gte": "at least / on or after",
    "lt": "less than / before",
    "lte": "at most / on or before",
    "is_set": "is set",
    "is_not_set": "is not set",
    "in_past": "is before today",
    "in_future": "is after today",
    "within_last_days": "is within the last N days",
    "within_next_days": "is within the next N days",
    "is_true": "is yes",
    "is_false": "is no",
    "has": "has tag",
    "not_has": "does not have tag",
    "performed": "performed",
    "not_performed": "did not perform",
}
VALUELESS_OPS = {"is_set", "is_not_set", "is_true", "is_false", "in_past", "in_future"}
RELATIVE_DAY_OPS = {"within_last_days", "within_next_days"}


def _field_type(field: str) -> str:
    return "boolean" if field == "is_vulnerable" else "text"


def segment_definition_clean(*, workspace, definition) -> dict:
    """Check a definition; raises ValidationError with 'rule N: ...' messages."""
    if not isinstance(definition, dict):
        raise ValidationError("The definition must be an object with 'match' and 'rules'.")
    match = definition.get("match", "all")
    if match not in ("all", "any"):
        raise ValidationError("'match' must be 'all' or 'any'.")
    rules = definition.get("rules", [])
    if not isinstance(rules, list):
        raise ValidationError("'rules' must be a list.")
    types = dict(AttributeDefinition.objects.filter(workspace=workspace).values_list("key", "type"))
    problems, clean_rules = [], []
    for number, rule in enumerate(rules, start=1):
        try:
            clean_rules.append(_rule_clean(rule, types))
        except ValueError as exc:
            problems.append(f"Rule {number}: {exc}")
    if problems:
        raise ValidationError(problems)
    return {"match": match, "rules": clean_rules}


def _rule_clean(rule, types: dict[str, str]) -> dict:
    if not isinstance(rule, dict):
        raise ValueError("must be an object.")
    field, op, value = rule.get("field"), rule.get("op"), rule.get("value")
    if field == "attribute":
        key = rule.get("key")
        if key not in types:
            raise ValueError(f"unknown attribute '{key}'.")
        if op not in OPS_BY_TYPE[types[key]]:
            raise ValueError(f"'{op}' does not apply to a {types[key]} attribute.")
        if op in RELATIVE_DAY_OPS:
            try:
                value = int(str(value).strip())
            except (TypeError, ValueError):
                raise ValueError("give a whole number of days.") from None
            if value < 0:
                raise ValueError("the number of days cannot be negative.")
        elif op not in VALUELESS_OPS:
            value = coerce_attribute(value, types[key])
            if value is None:
                raise ValueError("give a value.")
        return {"field": field, "key": key, "op": op, "value": None if op in VALUELESS_OPS else value}
    if field == "tag":
        if op not in ("has", "not_has"):
            raise ValueError("a tag rule is 'has' or 'not_has'.")
        if not value or not str(value).strip():
            raise ValueError("name the tag.")
        return {"field": field, "op": op, "value": str(value).strip()}
    if field == "event":
        if op not in ("performed", "not_performed"):
            raise ValueError("an event rule is 'performed' or 'not_performed'.")
        if not value or not str(value).strip():
            raise ValueError("name the event.")
        within = rule.get("within_days")
        if within not in (None, ""):
            try:
                within = int(within)
            except (TypeError, ValueError):
                raise ValueError("'within_days' must be a whole number of days.") from None
            if within <= 0:
                raise ValueError("'within_days' must be at least 1.")
        else:
            within = None
        return {"field": field, "op": op, "value": str(value).strip(), "within_days": within}
    if field in CONTACT_FIELDS:
        if op not in OPS_BY_TYPE[_field_type(field)]:
            raise ValueError(f"'{op}' does not apply to {CONTACT_FIELDS[field].lower()}.")
        if op not in VALUELESS_OPS and (value is None or str(value).strip() == ""):
            raise ValueError("give a value.")
        return {"field": field, "op": op, "value": None if op in VALUELESS_OPS else str(value).strip()}
    raise ValueError(f"unknown field '{field}'.")


def _rule_q(workspace, rule: dict, now: dt.datetime) -> Q:
    field, op, value = rule["field"], rule["op"], rule.get("value")
    if op in {"in_past", "in_future"} | RELATIVE_DAY_OPS:
        # Relative dates are resolved at query time, in the workspace's time zone.
        today = now.astimezone(zoneinfo.ZoneInfo(workspace.timezone)).date()
        lookup = f"attributes__{rule['key']}"
        days = dt.timedelta(days=value or 0)
        bounds = {
            "in_past": {"__lt": today},
            "in_future": {"__gt": today},
            "within_last_days": {"__gte": today - days, "__lte": today},
            "within_next_days": {"__gte": today, "__lte": today + days},
        }[op]
        return Q(**{f"{lookup}{suffix}": day.isoformat() for suffix, day in bounds.items()})
    if field == "tag":
        has = Exists(Contact.tags.through.objects.filter(contact_id=OuterRef("pk"), tag__name=value))
        return Q(has) if op == "has" else ~Q(has)
    if field == "event":
        events = Event.objects.filter(contact_id=OuterRef("pk"), name=value)
        if rule.get("within_days"):
            events = events.filter(occurred_at__gte=now - dt.timedelta(days=rule["within_days"]))
        return Q(Exists(events)) if op == "performed" else ~Q(Exists(events))
    lookup = f"attributes__{rule['key']}" if field == "attribute" else field
    if op == "is_set":
        q = Q(**{f"{lookup}__isnull": False})
        return q if field == "attribute" else q & ~Q(**{lookup: ""})
    if op == "is_not_set":
        q = Q(**{f"{lookup}__isnull": True})
        return q if field == "attribute" else q | Q(**{lookup: ""})
    if op == "is_true":
        return Q(**{lookup: True})
    if op == "is_false":
        if field == "attribute":  # unset counts as "no"
            return Q(**{lookup: False}) | Q(**{f"{lookup}__isnull": True})
        return Q(**{lookup: False})
    if op == "contains":
        return Q(**{f"{lookup}__icontains": value})
    if op == "neq":
        return ~Q(**{lookup: value}) | Q(**{f"{lookup}__isnull": True})
    suffix = {"eq": "", "gt": "__gt", "gte": "__gte", "lt": "__lt", "lte": "__lte"}[op]
    return Q(**{f"{lookup}{suffix}": value})


def segment_filter(
    queryset: QuerySet, *, workspace, definition: dict, now: dt.datetime | None = None
) -> QuerySet:
    """Narrow a contact queryset to those matching the definition (already cleaned)."""
    now = now or timezone.now()
    rules = definition.get("rules", [])
    if not rules:
        return queryset
    parts = [_rule_q(workspace, rule, now) for rule in rules]
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if definition.get("match", "all") == "all" else combined | part
    return queryset.filter(combined)


def rule_summary(rule: dict) -> str:
    field = rule["field"]
    subject = {
        "attribute": rule.get("key", ""),
        "tag": "",
        "event": "",
    }.get(field, CONTACT_FIELDS.get(field, field).lower())
    op = OP_LABELS.get(rule["op"], rule["op"])
    value = "" if rule.get("value") is None else f" {rule['value']}"
    within = f" in the last {rule['within_days']} days" if rule.get("within_days") else ""
    return f"{subject} {op}{value}{within}".strip()
