"""message.send: one message on one channel, the contact's preferred channel or a fallback
chain, in the contact's language, through the messaging send service (consent is checked
there). Exits: next (queued or deferred by quiet hours), failed (blocked, or no address)."""

from .base import (
    MESSAGE_FORM,
    MESSAGE_PROPS,
    Node,
    channel_name,
    check_message,
    first_text,
    go,
    message_request,
    obj,
    send,
    short,
)


def sent_exit(signal_data: dict) -> tuple[str, dict]:
    """The exit a send takes, with why in words when it was blocked or deferred (the consent
    rule and reason: the step, the test run and the contact's history show it)."""
    why = {k: signal_data[k] for k in ("reason", "rule", "message_id") if signal_data.get(k)}
    if signal_data.get("skipped") or signal_data.get("status") == "blocked":
        return "failed", {**why, "reason": signal_data.get("skipped") or signal_data.get("reason", "blocked")}
    return "next", {**why, "message_id": signal_data.get("message_id"), "status": signal_data.get("status")}


class MessageSend(Node):
    type = "message.send"
    category = "message"
    label = "Send a message"
    icon = "send"
    help = (
        "Sends a message in the contact's language; consent, quiet hours and caps are checked at send time."
    )
    schema = obj(MESSAGE_PROPS, ["template"])
    form = MESSAGE_FORM
    exits = ("next", "failed")
    purpose_from_journey = True
    defaults = {
        "channel": "preferred",
        "purpose": "transactional",
        "template": {"en": "Hello {{contact.first_name|there}}!"},
    }

    def title(self, config):
        text = short(first_text(config.get("template")), 22)
        return f"{channel_name(config.get('channel'))}: {text}" if text else self.label

    def check(self, config, ctx):
        return check_message(config, ctx)

    def enter(self, run):
        return send(message_request(run, run.config, run.text("template")))

    def resume(self, run, signal):
        exit_, detail = sent_exit(signal.data)
        return go(exit_, **detail)


NODE = MessageSend()
