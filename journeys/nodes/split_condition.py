"""split.condition: ordered rules; the first whose conditions hold names the exit, else `else`.
A condition reads a contact field or attribute, the entry event, the context, tags, consent
status for a channel and purpose, or whether a channel can reach the contact."""

from .base import KINDS, PURPOSE, Node, go, obj, short

SOURCES = ["attribute", "field", "event", "context", "tag", "consent", "channel"]
OPS = ["eq", "neq", "gt", "gte", "lt", "lte", "contains", "in", "is_set", "is_not_set", "has", "not_has",
       "allowed", "denied", "available", "unavailable", "is_true", "is_false"]  # fmt: skip
CONDITION = obj(
    {
        "source": {"type": "string", "enum": SOURCES},
        "key": {"type": "string", "maxLength": 100},
        "op": {"type": "string", "enum": OPS},
        "value": {},
        "channel": KINDS,
        "purpose": PURPOSE,
    },
    ["source", "op"],
)
RULE = obj(
    {
        "exit": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,39}$"},
        "match": {"type": "string", "enum": ["all", "any"]},
        "conditions": {"type": "array", "minItems": 1, "maxItems": 20, "items": CONDITION},
    },
    ["exit", "conditions"],
)


def _num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def compare(have, op: str, want) -> bool:
    if op == "is_set":
        return have not in (None, "", [], {})
    if op == "is_not_set":
        return have in (None, "", [], {})
    if op == "is_true":
        return have is True or str(have).lower() in ("true", "yes", "1")
    if op == "is_false":
        return not (have is True or str(have).lower() in ("true", "yes", "1"))
    if op in ("eq", "neq"):
        if isinstance(have, bool) or isinstance(want, bool):
            same = str(have).lower() == str(want).lower()
        elif _num(have) is not None and _num(want) is not None:
            same = _num(have) == _num(want)
        else:
            same = (
                str(have if have is not None else "").casefold()
                == str(want if want is not None else "").casefold()
            )
        return same if op == "eq" else not same
    if op == "contains":
        return have is not None and str(want).casefold() in str(have).casefold()
    if op == "in":
        options = want if isinstance(want, list) else [w.strip() for w in str(want).split(",")]
        return str(have).casefold() in {str(o).casefold() for o in options}
    if op in ("gt", "gte", "lt", "lte"):
        a, b = _num(have), _num(want)
        if a is None or b is None:  # ISO dates compare as text
            if have is None or want is None:
                return False
            a, b = str(have), str(want)
        return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]
    return False


def condition_holds(run, c: dict) -> bool:
    source, op, key = c["source"], c["op"], c.get("key", "")
    if source == "tag":
        has = c.get("value") in run.contact_tags()
        return has if op != "not_has" else not has
    if source == "consent":
        allowed = run.consent_allows(c.get("channel", "sms"), c.get("purpose", "marketing"))
        return allowed if op == "allowed" else not allowed
    if source == "channel":
        available = run.channel_available(c.get("channel", "sms"))
        return available if op == "available" else not available
    if source == "attribute":
        have = (run.contact.attributes or {}).get(key)
    elif source == "field":
        have = getattr(run.contact, key, None) if key in run.CONTACT_FIELDS else None
    elif source == "event":
        have = (run.context.get("event") or {}).get(key)
    else:
        have = run.lookup_context(key)
    want = run.render(c.get("value")) if isinstance(c.get("value"), str) else c.get("value")
    return compare(have, op, want)


class SplitCondition(Node):
    type = "split.condition"
    category = "logic"
    label = "Split by condition"
    icon = "split"
    help = "Checks rules in order (attributes, event, context, tags, consent, channels); the first that holds picks the exit, else 'else'."
    schema = obj({"rules": {"type": "array", "minItems": 1, "maxItems": 20, "items": RULE}}, ["rules"])
    form = [{"name": "rules", "label": "Rules, in order", "widget": "rules"}]
    exits = ("else",)
    defaults = {"rules": [{"exit": "vip", "conditions": [{"source": "tag", "op": "has", "value": "vip"}]}]}

    def title(self, config):
        names = [r.get("exit") for r in config.get("rules") or [] if isinstance(r, dict) and r.get("exit")]
        return f"Split: {short(' / '.join(names), 22)}" if names else self.label

    def exit_names(self, config):
        names = []
        for r in config.get("rules") or []:
            if isinstance(r, dict) and r.get("exit") and r["exit"] not in names:
                names.append(r["exit"])
        return names + ["else"]

    def check(self, config, ctx):
        problems = []
        for i, rule in enumerate(config.get("rules") or []):
            if rule["exit"] == "else":
                problems.append((f"rules.{i}.exit", "'else' is the built-in exit."))
            for j, c in enumerate(rule["conditions"]):
                where = f"rules.{i}.conditions.{j}"
                if c["source"] == "attribute":
                    problems += ctx.check_attribute(c.get("key"), f"{where}.key")
                if c["source"] == "field" and c.get("key") not in ctx.contact_fields:
                    problems.append((f"{where}.key", f"Unknown contact field '{c.get('key')}'."))
                if (
                    c["source"] in ("consent", "channel")
                    and c.get("channel")
                    and c["channel"] not in ctx.channel_kinds
                ):
                    problems.append(
                        (f"{where}.channel", f"No active {c['channel']} channel in this workspace.")
                    )
                if c["source"] == "tag" and c["op"] not in ("has", "not_has"):
                    problems.append((f"{where}.op", "Tags take 'has' or 'not_has'."))
        return problems

    def enter(self, run):
        for rule in run.config["rules"]:
            results = (condition_holds(run, c) for c in rule["conditions"])
            if any(results) if rule.get("match") == "any" else all(results):
                return go(rule["exit"])
        return go("else")


NODE = SplitCondition()
