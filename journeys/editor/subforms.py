"""Row-based sub-forms for the structured configs (condition rules, reply branches, A/B variants,
key/value maps, buttons): config -> rows the template renders, posted rows -> config.

Posted names are `cfg-<field>-<row>-<part>` (conditions of a rule: `cfg-rules-<row>-c-<n>-<part>`)
plus a `cfg-<field>-rows` marker, so a list whose every row was removed still reads as empty.
Errors name the row ("Rule 2: choose an operator."); rows are re-rendered from what was posted,
so nothing typed is lost when a row cannot be read."""

from __future__ import annotations

import json
import re

from cpaas.jsoninput import json_parse

from ..nodes.base import KINDS
from ..nodes.split_condition import SOURCES

SUBFORMS = {"rules", "branches", "variants", "keyvalue", "options"}
EXIT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

SOURCE_LABELS = {
    "attribute": "Attribute",
    "field": "Contact field",
    "event": "Event property",
    "context": "Context variable",
    "tag": "Tag",
    "consent": "Consent status",
    "channel": "Channel availability",
}
VALUE_OPS = [
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "in",
    "is_set",
    "is_not_set",
    "is_true",
    "is_false",
]
OPS_BY_SOURCE = {
    "attribute": VALUE_OPS,
    "field": VALUE_OPS,
    "event": VALUE_OPS,
    "context": VALUE_OPS,
    "tag": ["has", "not_has"],
    "consent": ["allowed", "denied"],
    "channel": ["available", "unavailable"],
}
OP_LABELS = {
    "eq": "equals",
    "neq": "does not equal",
    "gt": "is greater than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "contains": "contains",
    "in": "is one of (commas)",
    "is_set": "is set",
    "is_not_set": "is not set",
    "is_true": "is true / yes",
    "is_false": "is false / no",
    "has": "has the tag",
    "not_has": "does not have the tag",
    "allowed": "allows",
    "denied": "does not allow",
    "available": "can reach the contact",
    "unavailable": "cannot reach the contact",
}
NO_VALUE = {"is_set", "is_not_set", "is_true", "is_false", "allowed", "denied", "available", "unavailable"}
KEYED = {"attribute", "field", "event", "context"}
BRANCH_KINDS = {
    "keywords": "Keywords",
    "quick_reply": "Quick-reply id",
    "number": "Number range",
    "regex": "Pattern (regex)",
}
NOUNS = {"rules": "Rule", "branches": "Branch", "variants": "Variant", "options": "Option", "keyvalue": "Row"}


def noun(spec: dict) -> str:
    return spec.get("row_label") or NOUNS[spec.get("widget", "")]


def condition_meta() -> dict:
    """What the page's script needs to adapt a condition row to its subject."""
    return {
        "ops": {s: [[o, OP_LABELS[o]] for o in ops] for s, ops in OPS_BY_SOURCE.items()},
        "no_value": sorted(NO_VALUE),
        "keyed": sorted(KEYED),
        "key_labels": {s: SOURCE_LABELS[s] for s in KEYED},
    }


# --- config -> rows ---------------------------------------------------------------------------


def _scalar_text(value) -> tuple[str, str]:
    """(text, kind): strings as typed, anything else as JSON so it comes back the same type."""
    if isinstance(value, str):
        return value, "text"
    return json.dumps(value, ensure_ascii=False), "json"


def condition_row(c: dict) -> dict:
    source = c.get("source") if c.get("source") in SOURCES else "attribute"
    value, kind = _scalar_text(c["value"]) if "value" in c else ("", "text")
    return {
        "source": c.get("source", ""),
        "key": c.get("key", ""),
        "op": c.get("op", ""),
        "value": value,
        "vtype": kind,
        "channel": c.get("channel", ""),
        "purpose": c.get("purpose", ""),
        **_condition_shows(source, c.get("op", "")),
    }


def _condition_shows(source: str, op: str) -> dict:
    ops = [(o, OP_LABELS[o]) for o in OPS_BY_SOURCE.get(source, VALUE_OPS)]
    if op and op not in OPS_BY_SOURCE.get(source, VALUE_OPS):
        ops.append((op, OP_LABELS.get(op, op)))  # shown as it is, with an error saying why
    return {
        "ops": ops,
        "show_key": source in KEYED,
        "key_label": SOURCE_LABELS.get(source, "Key") if source in KEYED else "Key",
        "show_value": source == "tag" or (source in KEYED and op not in NO_VALUE),
        "value_label": "Tag" if source == "tag" else "Value",
        "show_channel": source in ("consent", "channel"),
        "show_purpose": source == "consent",
    }


def rows_from_config(widget: str, value) -> list[dict]:
    if widget == "rules":
        return [
            {
                "exit": r.get("exit", ""),
                "match": r.get("match", "all"),
                "conditions": [condition_row(c) for c in r.get("conditions") or [] if isinstance(c, dict)]
                or [condition_row({})],
            }
            for r in value or []
            if isinstance(r, dict)
        ]
    if widget == "branches":
        return [
            {
                "exit": b.get("exit", ""),
                "match": b.get("match", ""),
                "values": ", ".join(b.get("values") or []),
                "min": "" if b.get("min") is None else str(b["min"]),
                "max": "" if b.get("max") is None else str(b["max"]),
                "pattern": b.get("pattern", ""),
            }
            for b in value or []
            if isinstance(b, dict)
        ]
    if widget == "variants":
        return [
            {
                "exit": v.get("exit", ""),
                "weight": "" if v.get("weight") is None else str(v["weight"]),
                "name": str(v.get("name") or ""),
                "control": "on" if v.get("control") else "",
            }  # fmt: skip
            for v in value or []
            if isinstance(v, dict)
        ]
    if widget == "keyvalue":
        rows = []
        for k, v in (value or {}).items():
            text, kind = _scalar_text(v)
            rows.append({"key": k, "value": text, "vtype": kind})
        return rows
    if widget == "options":
        return [
            {"id": "", "title": o}
            if isinstance(o, str)
            else {"id": o.get("id", ""), "title": o.get("title", "")}
            for o in value or []
        ]
    return []


def blank_row(widget: str) -> dict:
    if widget == "rules":
        return {"exit": "", "match": "all", "conditions": [condition_row({})]}
    return {"exit": "", "match": "", "values": "", "min": "", "max": "", "pattern": "", "weight": "", "name": "", "control": "",
            "key": "", "value": "", "vtype": "text", "id": "", "title": ""}  # fmt: skip


def number_rows(field: dict) -> None:
    """Give each row (and condition) its name prefix and number; blanks get placeholders that
    the page's script renumbers."""
    prefix = field["id"]
    for i, row in enumerate(field["rows"]):
        row["p"], row["n"] = f"{prefix}-{i}", i + 1
        for j, c in enumerate(row.get("conditions") or []):
            c["p"], c["n"] = f"{prefix}-{i}-c-{j}", j + 1
    field["blank"]["p"] = f"{prefix}-__i__"
    if field["widget"] == "rules":
        field["blank"]["conditions"][0].update(p=f"{prefix}-__i__-c-__i__", n=1)
        field["blank_condition"] = {**condition_row({}), "p": f"{prefix}-__i__-c-__i__", "n": ""}


def errors_to_rows(field: dict) -> list[str]:
    """Put each "Rule 2: ..." message on its row (shown there); return the rest for the field."""
    rest = []
    for message in field["errors"]:
        m = re.match(rf"^{re.escape(field['noun'])} (\d+)[:,]", message)
        n = int(m.group(1)) if m else 0
        if 0 < n <= len(field["rows"]):
            field["rows"][n - 1].setdefault("errors", []).append(message)
        else:
            rest.append(message)
    return rest


# --- posted rows -> config --------------------------------------------------------------------


def _indices(data, prefix: str) -> list[int]:
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)-")
    return sorted({int(m.group(1)) for k in data.keys() if (m := pattern.match(k))})


def posted(data, key: str) -> bool:
    return f"{key}-rows" in data


def rows_from_post(widget: str, data, key: str) -> list[dict]:
    """The rows exactly as typed (to re-render them)."""
    rows = []
    for i in _indices(data, key):
        p = f"{key}-{i}-"
        g = lambda part, p=p: data.get(p + part, "")  # noqa: E731
        if widget == "rules":
            conditions = []
            for j in _indices(data, f"{key}-{i}-c"):
                q = f"{p}c-{j}-"
                c = {
                    part: data.get(q + part, "")
                    for part in ("source", "key", "op", "value", "channel", "purpose")
                }
                c["vtype"] = data.get(q + "vtype", "text")
                c.update(_condition_shows(c["source"] or "attribute", c["op"]))
                conditions.append(c)
            rows.append(
                {
                    "exit": g("exit"),
                    "match": g("match") or "all",
                    "conditions": conditions or [condition_row({})],
                }
            )
        else:
            row = blank_row(widget)
            row.update({part: data.get(p + part) for part in row if p + part in data})
            rows.append(row)
    return rows


def is_blank(widget: str, row: dict) -> bool:
    if widget == "rules":
        return not row["exit"].strip() and all(
            not any(c[p].strip() for p in ("key", "op", "value", "channel")) for c in row["conditions"]
        )
    parts = {"branches": ("exit", "match", "values", "min", "max", "pattern"), "variants": ("exit", "weight", "name"),
             "keyvalue": ("key", "value"), "options": ("id", "title")}[widget]  # fmt: skip
    return not any((row.get(p) or "").strip() for p in parts)


def _typed(text: str, kind: str):
    if kind == "json":
        try:
            return json_parse(text)
        except ValueError:
            return text
    return text


def _exit(raw: str) -> str:
    return re.sub(r"[\s\-]+", "_", raw.strip().lower())


def _num(raw: str, what: str, where: str, errors: list[str]):
    raw = raw.strip().replace(",", ".") if raw.count(",") == 1 and "." not in raw else raw.strip()
    if raw == "":
        return None
    try:
        return int(raw) if re.fullmatch(r"-?\d+", raw) else float(raw)
    except ValueError:
        errors.append(f"{where}: {what} is not a number.")
        return None


def _exit_checked(raw: str, where: str, errors: list[str]) -> str:
    name = _exit(raw)
    if not name:
        errors.append(f"{where}: name its exit.")
    elif not EXIT_NAME.match(name):
        errors.append(f"{where}: the exit name must start with a letter and use only a–z, 0–9 and _.")
    return name


def parse(spec: dict, data, key: str) -> tuple[object, list[str]]:
    """(value or None, errors). Blank rows are skipped; any error means the value is not used."""
    widget, label = spec["widget"], noun(spec)
    errors: list[str] = []
    rows = rows_from_post(widget, data, key)
    if widget == "rules":
        out = []
        for n, row in enumerate(rows, 1):
            conds = [
                c for c in row["conditions"] if any(c[p].strip() for p in ("key", "op", "value", "channel"))
            ]
            if not row["exit"].strip() and not conds:
                continue
            where = f"{label} {n}"
            rule: dict = {"exit": _exit_checked(row["exit"], where, errors)}
            if row["match"] == "any":
                rule["match"] = "any"
            rule["conditions"] = []
            if not conds:
                errors.append(f"{where}: add a condition.")
            for m, c in enumerate(conds, 1):
                cw = where if len(conds) == 1 else f"{where}, condition {m}"
                source, op = c["source"], c["op"]
                if source not in SOURCES:
                    errors.append(f"{cw}: choose what to check.")
                    continue
                cond: dict = {"source": source}
                if source in KEYED:
                    if not c["key"].strip():
                        errors.append(f"{cw}: choose the {SOURCE_LABELS[source].lower()}.")
                    cond["key"] = c["key"].strip()
                if not op:
                    errors.append(f"{cw}: choose an operator.")
                elif op not in OPS_BY_SOURCE[source]:
                    errors.append(
                        f"{cw}: '{OP_LABELS.get(op, op)}' does not apply to a {SOURCE_LABELS[source].lower()}."
                    )
                cond["op"] = op
                if source in ("consent", "channel"):
                    if c["channel"] not in KINDS["enum"]:
                        errors.append(f"{cw}: choose a channel.")
                    cond["channel"] = c["channel"]
                    if source == "consent" and c["purpose"].strip():
                        cond["purpose"] = c["purpose"].strip()
                elif source == "tag" or op not in NO_VALUE:
                    if c["value"].strip() == "":
                        errors.append(f"{cw}: enter {'a tag' if source == 'tag' else 'a value'}.")
                    cond["value"] = _typed(
                        c["value"].strip() if c["vtype"] != "json" else c["value"], c["vtype"]
                    )
                rule["conditions"].append(cond)
            out.append(rule)
        return out, errors
    if widget == "branches":
        out = []
        for n, row in enumerate(rows, 1):
            fields = ("exit", "match", "values", "min", "max", "pattern")
            if not any((row.get(f) or "").strip() for f in fields):
                continue
            where = f"{label} {n}"
            branch: dict = {"exit": _exit_checked(row["exit"], where, errors), "match": row["match"]}
            kind = row["match"]
            if kind in ("keywords", "quick_reply"):
                values = [v.strip() for v in row["values"].split(",") if v.strip()]
                if not values:
                    errors.append(f"{where}: list at least one {'keyword' if kind == 'keywords' else 'id'}.")
                branch["values"] = values
            elif kind == "number":
                low = _num(row["min"], "min", where, errors)
                high = _num(row["max"], "max", where, errors)
                if low is None and high is None and not any(e.startswith(where) for e in errors):
                    errors.append(f"{where}: give a minimum, a maximum or both.")
                if low is not None and high is not None and low > high:
                    errors.append(f"{where}: the minimum is greater than the maximum.")
                branch.update({k: v for k, v in (("min", low), ("max", high)) if v is not None})
            elif kind == "regex":
                pattern = row["pattern"]
                if not pattern.strip():
                    errors.append(f"{where}: enter a pattern.")
                else:
                    try:
                        re.compile(pattern)
                    except re.error as exc:
                        errors.append(f"{where}: the pattern is not valid ({exc}).")
                branch["pattern"] = pattern
            else:
                errors.append(f"{where}: choose what to match.")
            out.append(branch)
        return out, errors
    if widget == "variants":
        out = []
        for n, row in enumerate(rows, 1):
            if not row["exit"].strip() and not row["weight"].strip():
                continue
            where = f"{label} {n}"
            name = _exit_checked(row["exit"], where, errors)
            weight = row["weight"].strip().rstrip("%").strip()
            if not re.fullmatch(r"\d+", weight):
                errors.append(f"{where}: the weight is a whole number from 0 to 1000.")
                weight = "0"
            variant = {"exit": name, "weight": int(weight)}
            if row.get("name", "").strip():
                variant["name"] = row["name"].strip()[:60]
            if row.get("control"):
                variant["control"] = True
            out.append(variant)
        names = [v["exit"] for v in out]
        for n, name in enumerate(names, 1):
            if name and name in names[: n - 1]:
                errors.append(f"{label} {n}: '{name}' is already the name of another variant.")
        # the experiment compares every variant with one control (experiments.models)
        controls = [n for n, v in enumerate(out, 1) if v.get("control")]
        if out and not controls:
            errors.append("Mark one variant as the control: the one the others are compared with.")
        for n in controls[1:]:
            errors.append(f"{label} {n}: only one variant can be the control (variant {controls[0]} is).")
        return out, errors
    if widget == "keyvalue":
        out_kv: dict = {}
        key_label = (spec.get("key_label") or "key").lower()
        for n, row in enumerate(rows, 1):
            k, v = row["key"].strip(), row["value"]
            if not k and not v.strip():
                continue
            where = f"{label} {n}"
            if not k:
                errors.append(f"{where}: enter the {key_label}.")
            elif k in out_kv:
                errors.append(f"{where}: '{k}' is already used.")
            out_kv[k] = _typed(v, row.get("vtype") or "text")
        return out_kv, errors
    if widget == "options":
        out_opts: list = []
        for n, row in enumerate(rows, 1):
            ident, title = row["id"].strip(), row["title"].strip()
            if not ident and not title:
                continue
            where = f"{label} {n}"
            if not title:
                errors.append(f"{where}: enter the text shown.")
            elif len(title) > 20:
                errors.append(f"{where}: at most 20 characters ({len(title)}).")
            out_opts.append({"id": ident, "title": title} if ident else title)
        return out_opts, errors
    raise ValueError(widget)


def relabel(spec: dict, where: str, message: str, value=None) -> str:
    """`rules.1.conditions.0.key` + message -> "Rule 2, condition 1: message" (just "Rule 2" when
    the rule has one condition, as the row shows it)."""
    parts = where.split(".")
    if (
        spec.get("widget") not in ("rules", "branches", "variants", "options")
        or len(parts) < 2
        or not parts[1].isdigit()
    ):
        return message
    text = f"{noun(spec)} {int(parts[1]) + 1}"
    try:
        several = len(value[int(parts[1])]["conditions"]) > 1
    except (TypeError, LookupError, ValueError):
        several = True
    if len(parts) > 3 and parts[2] == "conditions" and parts[3].isdigit() and several:
        text += f", condition {int(parts[3]) + 1}"
    return f"{text}: {message}"
