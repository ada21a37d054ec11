"""Merge fields in templates, rendered safely: `{{contact.first_name}}`, `{{contact.<attribute>}}`,
`{{event.<property>}}`, `{{context.<variable>}}` (dotted paths go deeper), with an optional
default after a bar: `{{contact.first_name|there}}`. A missing value renders the default, or
nothing; an unknown root renders as written. Nothing is evaluated: it is a lookup, never code."""

from __future__ import annotations

import re

FIELD = re.compile(r"\{\{\s*([a-zA-Z_][\w]*)((?:\.[\w-]+)*)\s*(?:\|([^}]*))?\}\}")
ROOTS = ("contact", "event", "context")
CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "display_name",
    "phone",
    "email",
    "language",
    "timezone",
    "preferred_channel",
    "external_id",
    "id",
)


def contact_value(contact, key: str):
    if contact is None:
        return None
    if key in CONTACT_FIELDS:
        value = contact.pk if key == "id" else getattr(contact, key, None)
        return value if value not in ("", None) else None
    return (contact.attributes or {}).get(key)


def _dig(value, path: list[str]):
    for part in path:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def lookup(root: str, path: list[str], *, contact=None, event=None, context=None, extra=None):
    if extra and root in extra and not path:
        return extra[root]
    if root == "contact":
        if not path:
            return None
        return _dig(contact_value(contact, path[0]), path[1:])
    if root == "event":
        return _dig(event or {}, path)
    if root == "context":
        return _dig(context or {}, path)
    return None


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render(template, *, contact=None, event=None, context=None, extra=None):
    """Render merge fields in a string (or in every string of a list / dict)."""
    if isinstance(template, dict):
        return {
            k: render(v, contact=contact, event=event, context=context, extra=extra)
            for k, v in template.items()
        }
    if isinstance(template, list):
        return [render(v, contact=contact, event=event, context=context, extra=extra) for v in template]
    if not isinstance(template, str) or "{{" not in template:
        return template

    def sub(match: re.Match) -> str:
        root, dotted, default = match.group(1), match.group(2), match.group(3)
        if extra and f"{root}{dotted}" in extra:  # node-provided values: {{code}}, {{promise.date}}
            value = extra[f"{root}{dotted}"]
            return _text(value) if value not in (None, "") else (default or "").strip()
        if root not in ROOTS:
            return match.group(0)
        path = [p for p in dotted.split(".") if p]
        value = lookup(root, path, contact=contact, event=event, context=context, extra=extra)
        if value in (None, "") or isinstance(value, dict | list):
            return (default or "").strip()
        return _text(value)

    return FIELD.sub(sub, template)


def fields_in(template) -> list[tuple[str, list[str]]]:
    """Every (root, path) a template refers to, for validation."""
    out = []
    if isinstance(template, dict):
        for v in template.values():
            out += fields_in(v)
    elif isinstance(template, list):
        for v in template:
            out += fields_in(v)
    elif isinstance(template, str):
        for m in FIELD.finditer(template):
            out.append((m.group(1), [p for p in m.group(2).split(".") if p]))
    return out
