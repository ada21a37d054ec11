"""message.ask: send a question and wait for the reply. Branches, in order: keyword lists,
quick-reply ids, number ranges, regular expressions; then `other`; `timeout` when no reply
comes in time; `failed` when the question could not be sent."""

import re

from .base import (
    MESSAGE_FORM,
    MESSAGE_PROPS,
    SECONDS,
    Node,
    check_message,
    first_text,
    go,
    message_request,
    obj,
    send,
    short,
    wait,
)
from .message_send import sent_exit
from .trigger_keyword import normalise

BRANCH = {
    "type": "object",
    "required": ["exit", "match"],
    "properties": {
        "exit": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,39}$"},
        "match": {"type": "string", "enum": ["keywords", "quick_reply", "number", "regex"]},
        "values": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 60}},
        "min": {"type": "number"},
        "max": {"type": "number"},
        "pattern": {"type": "string", "minLength": 1, "maxLength": 200},
    },
    "additionalProperties": False,
}
NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")


def first_number(text: str) -> float | None:
    m = NUMBER.search(text or "")
    return float(m.group(0).replace(",", ".")) if m else None


def branch_for(branches: list[dict], reply: dict) -> str | None:
    text = reply.get("text") or ""
    button = reply.get("button") or ""
    words = normalise(text).split()
    for b in branches:
        kind = b["match"]
        if kind == "keywords":
            wanted = {normalise(v) for v in b.get("values", [])}
            if words and (words[0] in wanted or " ".join(words) in wanted):
                return b["exit"]
        elif kind == "quick_reply":
            values = b.get("values", [])
            if button and button in values:
                return b["exit"]
            if text and normalise(text) in {normalise(v) for v in values}:
                return b["exit"]
        elif kind == "number":
            n = first_number(text)
            if (
                n is not None
                and (b.get("min") is None or n >= b["min"])
                and (b.get("max") is None or n <= b["max"])
            ):
                return b["exit"]
        elif kind == "regex":
            try:
                if re.search(b["pattern"], text, re.IGNORECASE):
                    return b["exit"]
            except re.error:
                continue
    return None


def reply_of(signal) -> dict:
    d = signal.data
    return {
        "text": d.get("text", ""),
        "button": d.get("button", ""),
        "message_id": d.get("message_id"),
        "channel": d.get("channel", ""),
    }


class MessageAsk(Node):
    type = "message.ask"
    category = "message"
    label = "Ask and wait for a reply"
    icon = "message-circle-question-mark"
    help = "Sends a question, then branches on the reply: keywords, quick replies, numbers, patterns; 'other' and 'timeout' otherwise."
    schema = obj(
        {**MESSAGE_PROPS, "branches": {"type": "array", "maxItems": 20, "items": BRANCH}, "timeout_s": SECONDS,
         "save_as": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,39}$"}},
        ["template", "timeout_s"],
    )  # fmt: skip
    form = MESSAGE_FORM + [
        {
            "name": "branches",
            "label": "Branches",
            "widget": "branches",
            "help": "Checked in order; the first that matches wins.",
        },
        {"name": "timeout_s", "label": "Wait for a reply", "widget": "duration", "required": True},
        {"name": "save_as", "label": "Save the reply as context variable", "widget": "text"},
    ]
    exits = ("other", "timeout", "failed")
    purpose_from_journey = True
    defaults = {
        "template": {"en": "Reply YES or NO"},
        "timeout_s": 86400,
        "branches": [{"exit": "yes", "match": "keywords", "values": ["yes", "y"]}],
    }

    def title(self, config):
        text = short(first_text(config.get("template") or config.get("question")), 24)
        return f"Ask: {text}" if text else self.label

    def waiting_exits(self, config):
        return frozenset(self.exit_names(config)) - {"failed"}  # failed: the send, at once

    def exit_names(self, config):
        names = []
        for b in config.get("branches") or []:
            if isinstance(b, dict) and b.get("exit") and b["exit"] not in names:
                names.append(b["exit"])
        return names + [e for e in self.exits if e not in names]

    def check(self, config, ctx):
        problems = check_message(config, ctx)
        for i, b in enumerate(config.get("branches") or []):
            if b["match"] == "regex":
                try:
                    re.compile(b.get("pattern", ""))
                except re.error as exc:
                    problems.append((f"branches.{i}.pattern", f"Not a valid pattern: {exc}."))
                if not b.get("pattern"):
                    problems.append((f"branches.{i}.pattern", "A regex branch needs a pattern."))
            if b["match"] in ("keywords", "quick_reply") and not b.get("values"):
                problems.append((f"branches.{i}.values", "List at least one value."))
            if (
                b["match"] == "number"
                and b.get("min") is not None
                and b.get("max") is not None
                and b["min"] > b["max"]
            ):
                problems.append((f"branches.{i}.min", "min is greater than max."))
            if b["exit"] in self.exits:
                problems.append((f"branches.{i}.exit", f"'{b['exit']}' is a built-in exit name."))
        return problems

    def enter(self, run):
        request = message_request(run, run.config, run.text("template"))
        # a question on a call waits for keys (DTMF): the provider's gather posts them back as
        # the contact's reply, which resumes this node like a text reply
        request.options["expects_reply"] = True
        return send(request)

    def resume(self, run, signal):
        if signal.kind == "sent":
            exit_, detail = sent_exit(signal.data)
            if exit_ == "failed":
                return go("failed", **detail)
            return wait("reply", until=run.after(run.config["timeout_s"]), **detail)
        if signal.kind == "timeout":
            return go("timeout")
        reply = reply_of(signal)
        run.context["last_reply"] = reply["text"]
        if run.config.get("save_as"):
            run.context[run.config["save_as"]] = reply["text"]
        exit_ = branch_for(run.config.get("branches") or [], reply) or "other"
        return go(exit_, reply=reply["text"][:200])


NODE = MessageAsk()
