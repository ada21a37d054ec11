"""Configuration forms generated from each node module's `form` definition.

`fields_for(node, config, ctx)` turns the definition and a config into field dicts the template
renders; `config_from_post(node, data, old)` turns the posted form back into a config and gives
field-level parse errors. Schema and workspace checks come from the engine's validator, so the
errors the form shows are the ones publishing would refuse with."""

from __future__ import annotations

import json
import re

from cpaas.durations import duration_format, duration_parse
from cpaas.jsoninput import json_parse

from ..merge import CONTACT_FIELDS
from ..validation import STANDARD_EVENTS, Context, _node_validators, _schema_errors
from . import subforms
from .subforms import SUBFORMS

LANG = re.compile(r"^[a-z]{2}(-[A-Za-z]{2})?$")
SIMPLE_JSON = {"json"}


def _as_text(widget: str, value) -> str:
    if value is None:
        return ""
    if widget == "lines":
        return "\n".join(str(v) for v in value) if isinstance(value, list) else str(value)
    if widget in ("tags", "channel_list", "weekdays"):
        return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    if widget == "duration":
        return duration_format(value) if isinstance(value, int | float) else str(value)
    if widget in SIMPLE_JSON:
        return json.dumps(value, indent=1, ensure_ascii=False) if value not in ({}, []) else ""
    return str(value)


# context variables the engine itself sets (journeys/nodes/*: `run.context[...] = ...`)
ENGINE_CONTEXT = ("last_reply", "last_event", "payment_link", "promise", "rating", "webhook")


def context_variables(graph: dict | None) -> list[str]:
    """Variables a journey's context can hold: the engine's own and those the graph names
    (an ask's `save_as`, a webhook's answer mapping)."""
    names = set(ENGINE_CONTEXT)
    for node in ((graph or {}).get("nodes") or {}).values():
        config = node.get("config") or {} if isinstance(node, dict) else {}
        if isinstance(config.get("save_as"), str) and node.get("type") == "message.ask":
            names.add(config["save_as"])
        if node.get("type") == "webhook.call" and isinstance(config.get("map"), dict):
            names.update(k for k in config["map"] if isinstance(k, str))
    return sorted(names)


def workspace_choices(ctx: Context, graph: dict | None = None) -> dict:
    from contacts.models import Event, Tag

    events = set(STANDARD_EVENTS) | set(
        Event.objects.filter(workspace=ctx.workspace).values_list("name", flat=True).distinct()[:200]
    )
    # property names seen on the workspace's latest events (a sample, not a scan)
    properties: set[str] = set()
    for props in (
        Event.objects.filter(workspace=ctx.workspace)
        .order_by("-id")
        .values_list("properties", flat=True)[:300]
    ):
        if isinstance(props, dict):
            properties.update(k for k in props if isinstance(k, str))
    return {
        "channel_kinds": sorted(ctx.channel_kinds),
        "purposes": sorted(ctx.purposes),
        "contact_fields": sorted(ctx.contact_fields),
        "events": sorted(events),
        "event_properties": sorted(properties)[:200],
        "tags": list(Tag.objects.filter(workspace=ctx.workspace).values_list("name", flat=True)[:500]),
        "context_variables": context_variables(graph),
        "wa_templates": _wa_templates(ctx),
        "attributes": sorted(ctx.attributes),
        "merge_fields": [f"contact.{f}" for f in CONTACT_FIELDS]
        + [f"contact.{a}" for a in sorted(ctx.attributes)]
        + ["event.<property>", "context.<variable>"],
    }


def _wa_templates(ctx: Context) -> list[tuple[str, str]]:
    """(name|language, label) of the approved templates a WhatsApp send would go with."""
    from channels_app.services.channels import channel_templates

    return [
        (f"{t.name}|{t.language}", f"{t.name} ({t.language}, {t.category}): {t.body[:70]}")
        for t in channel_templates(workspace=ctx.workspace, kind="whatsapp")
    ]


def fields_for(node, config: dict, errors: dict[str, list[str]], choices: dict, posted=None) -> list[dict]:
    """`posted`: the form data just applied; sub-form rows are shown as typed, not as read."""
    out = []
    for spec in node.form:
        name, widget = spec["name"], spec.get("widget", "text")
        value = config.get(name)
        field = {
            **spec,
            "widget": widget,
            "id": f"cfg-{name}",
            "value": value,
            "text": _as_text(widget, value),
            "errors": errors.get(name, []),
            "required": spec.get("required") or name in node.schema.get("required", []),
        }
        if widget == "checkbox":
            field["checked"] = bool(value if value is not None else spec.get("default", False))
        if widget == "localized_text":
            field["languages"] = list((value or {}).items()) or [("en", "")]
        if widget == "channel":
            field["options"] = ["preferred", *choices["channel_kinds"]]
        if widget == "channel_list":  # an ordered picker of the workspace's channels
            chosen = [str(v) for v in value] if isinstance(value, list) else []
            field["chosen"] = [(k, _kind_label(k)) for k in chosen]
            field["addable"] = [(k, _kind_label(k)) for k in choices["channel_kinds"] if k not in chosen]
        if widget in SUBFORMS:
            field["subform"] = True
            field["noun"] = subforms.noun(spec)
            field["rows"] = subforms.rows_from_config(widget, value)
            if posted is not None and subforms.posted(posted, field["id"]):
                typed = subforms.rows_from_post(widget, posted, field["id"])
                if subforms.parse(spec, posted, field["id"])[1]:
                    field["rows"] = typed  # not read: shown as typed, to be corrected
                else:  # read: shown as read (exit names normalised), plus rows not filled in yet
                    field["rows"] += [r for r in typed if subforms.is_blank(widget, r)]
            if spec.get("key_choices"):  # a named list of workspace_choices() for the key column
                field["key_options"] = choices.get(spec["key_choices"], [])
            field["blank"] = subforms.blank_row(widget)
            subforms.number_rows(field)
            field["errors"] = subforms.errors_to_rows(field)
            if widget == "rules":
                field["meta_json"] = json.dumps(subforms.condition_meta())
                field["sources"] = list(subforms.SOURCE_LABELS.items())
                field["kinds"] = list(choices["channel_kinds"])
                for row in field["rows"]:
                    for c in row["conditions"]:
                        if c["channel"] and c["channel"] not in field["kinds"]:
                            field["kinds"].append(c["channel"])
            if widget == "branches":
                field["kinds"] = list(subforms.BRANCH_KINDS.items())
        if widget == "json" and posted is not None and field["id"] in posted:
            field["text"] = posted.get(field["id"], "")  # an unreadable body stays as typed
        if (
            widget in ("duration", "number")
            and field["errors"]
            and posted is not None
            and field["id"] in posted
        ):
            field["text"] = posted.get(field["id"], "")  # "2 dayz" stays, to be corrected
        if widget == "wa_template":
            field["options"] = list(choices.get("wa_templates", []))
            if field["text"] and field["text"] not in [v for v, _ in field["options"]]:
                field["options"].append((field["text"], f"{field['text']} (no longer approved)"))
        if widget == "select":
            field["options"] = list(spec.get("options", []))
        if widget in ("select", "channel") and field["text"] and field["text"] not in field["options"]:
            field["options"].append(field["text"])  # keep what is there, even if no longer offered
        out.append(field)
    return out


def _kind_label(kind: str) -> str:
    from contacts.models import ChannelKind

    return ChannelKind(kind).label if kind in ChannelKind.values else kind


def _number(raw: str):
    raw = raw.strip()
    if raw == "":
        return None
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    return float(raw)


def config_from_post(node, data, old: dict) -> tuple[dict, dict[str, list[str]]]:
    """The posted form as a config; fields that cannot be read keep their old value."""
    config = dict(old)
    errors: dict[str, list[str]] = {}
    for spec in node.form:
        name, widget = spec["name"], spec.get("widget", "text")
        key = f"cfg-{name}"
        try:
            if widget == "localized_text":
                texts = {}
                for lang, text in zip(data.getlist(f"{key}-lang"), data.getlist(f"{key}-text"), strict=False):
                    lang = lang.strip()
                    if lang and text.strip():
                        if not LANG.match(lang):
                            raise ValueError(f"'{lang}' is not a language code such as en or pt-BR.")
                        texts[lang] = text
                new_lang = (data.get(f"{key}-new") or "").strip()
                if new_lang:
                    if not LANG.match(new_lang):
                        raise ValueError(f"'{new_lang}' is not a language code such as en or pt-BR.")
                    texts.setdefault(new_lang, texts.get("en") or next(iter(texts.values()), "…"))
                value = texts or None
            elif widget == "checkbox":
                value = data.get(key) in ("on", "true", "1")
                if name not in old and value == spec.get("default", False):
                    continue  # an unset box that shows its default stays unset
            elif widget in SUBFORMS:
                if not subforms.posted(data, key):
                    continue
                value, row_errors = subforms.parse(spec, data, key)
                if row_errors:
                    errors[name] = row_errors
                    continue
                value = value or None
            elif widget == "channel_list":
                if key not in data and f"{key}-list" not in data:
                    continue
                # one input per chosen channel, in order (a comma list is read the same)
                value = [p.strip() for v in data.getlist(key) for p in v.split(",") if p.strip()] or None
            elif key not in data:
                continue
            else:
                raw = data.get(key, "")
                if widget == "duration":
                    try:
                        value = duration_parse(raw)
                    except ValueError as exc:
                        errors[name] = [str(exc)]
                        continue
                elif widget == "number":
                    value = _number(raw)
                elif widget == "lines":
                    value = [line.strip() for line in raw.splitlines() if line.strip()] or None
                elif widget == "tags":
                    value = [p.strip() for p in raw.split(",") if p.strip()] or None
                elif widget == "weekdays":
                    value = [int(p) for p in raw.replace(" ", "").split(",") if p != ""] or None
                elif widget in SIMPLE_JSON:
                    value = json_parse(raw) if raw.strip() else None
                elif widget == "channel":
                    value = int(raw) if raw.isdigit() else (raw or None)
                elif widget == "segment":
                    value = int(raw) if raw.strip().isdigit() else (raw.strip() or None)
                else:
                    value = raw if raw.strip() else None
        except json.JSONDecodeError as exc:
            errors[name] = [f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."]
            continue
        except ValueError as exc:
            errors[name] = [str(exc) if "language" in str(exc) else "Not a number."]
            continue
        if value is None:
            config.pop(name, None)
        else:
            config[name] = value
    return config, errors


def config_problems(node, config: dict, ctx: Context) -> dict[str, list[str]]:
    """Field -> messages, from the node's schema, then its checks against the workspace."""
    out: dict[str, list[str]] = {}
    specs = {spec["name"]: spec for spec in node.form}
    schema_errors = _schema_errors(_node_validators[node.type], config, "")
    problems = schema_errors or node.check(config, ctx)
    for where, message in problems:
        name = where.split(".")[0]
        if name in specs:
            message = subforms.relabel(specs[name], where, message, config.get(name))
            if specs[name].get("widget") == "duration":
                message = _duration_words(message)
        out.setdefault(name, []).append(message)
    return out


def _duration_words(message: str) -> str:
    """The schema speaks seconds ("30 is less than the minimum of 60"); a duration field says
    it as typed ("30 s is shorter than the minimum, 1 min.")."""
    bound = re.fullmatch(r"(\d+) is (less than the minimum|greater than the maximum) of (\d+)", message)
    if bound is None:
        return message
    value, which, limit = bound.groups()
    word = "shorter than the minimum" if which.startswith("less") else "longer than the maximum"
    return f"{duration_format(int(value))} is {word}, {duration_format(int(limit))}."
