"""trigger.keyword: an inbound message whose first word (or whole text) is one of the keywords
enrols the contact, on any channel or the listed ones."""

import re
import unicodedata

from .base import KINDS, Node, go, obj, short


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^\w\s]", " ", text.casefold()).strip()


def keyword_hit(keywords: list[str], text: str, mode: str = "first_word") -> bool:
    words = normalise(text).split()
    wanted = {normalise(k) for k in keywords if normalise(k)}
    if not words:
        return False
    if mode == "exact":
        return " ".join(words) in wanted
    if mode == "contains":
        joined = f" {' '.join(words)} "
        return any(f" {k} " in joined for k in wanted)
    return words[0] in wanted or " ".join(words) in wanted


class KeywordTrigger(Node):
    type = "trigger.keyword"
    category = "trigger"
    label = "When a contact texts a keyword"
    icon = "hash"
    help = "Starts the journey when an inbound message starts with (or is, or contains) a keyword."
    schema = obj(
        {
            "keywords": {
                "type": "array",
                "minItems": 1,
                "maxItems": 50,
                "items": {"type": "string", "minLength": 1, "maxLength": 40},
            },
            "match": {"type": "string", "enum": ["first_word", "exact", "contains"]},
            "channels": {"type": "array", "items": KINDS},
        },
        ["keywords"],
    )
    form = [
        {"name": "keywords", "label": "Keywords", "widget": "tags", "required": True},
        {
            "name": "match",
            "label": "Match",
            "widget": "select",
            "options": ["first_word", "exact", "contains"],
        },
        {"name": "channels", "label": "Only on channels", "widget": "channel_list"},
    ]
    defaults = {"keywords": ["JOIN"], "match": "first_word"}

    def title(self, config):
        words = ", ".join(str(k) for k in config.get("keywords") or [])
        return f"Keyword {short(words, 20)}" if words else self.label

    def check(self, config, ctx):
        reserved = {"stop", "start", "help", "unsubscribe", "cancel", "end", "quit"}
        hits = [k for k in config.get("keywords", []) if normalise(k) in reserved]
        return (
            [
                (
                    "keywords",
                    f"'{hits[0]}' is a consent keyword; it changes consent and never starts a journey.",
                )
            ]
            if hits
            else []
        )

    def enter(self, run):
        return go()

    def matches(self, config: dict, text: str, kind: str) -> bool:
        if config.get("channels") and kind not in config["channels"]:
            return False
        return keyword_hit(config.get("keywords", []), text, config.get("match", "first_word"))


NODE = KeywordTrigger()
