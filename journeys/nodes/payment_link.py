"""payment.link: sends a payment link (merge fields in the URL) and waits for the payment event.
Exits: paid, timeout, failed (the message could not be sent)."""

from .base import (
    EVENT_NAME,
    MESSAGE_FORM,
    MESSAGE_PROPS,
    SECONDS,
    Node,
    check_message,
    go,
    message_request,
    obj,
    send,
    wait,
)
from .message_send import sent_exit


class PaymentLink(Node):
    type = "payment.link"
    category = "action"
    label = "Send a payment link"
    icon = "credit-card"
    help = "Sends a link to pay in the channel ({{link}} in the text) and waits for the payment event."
    schema = obj(
        {
            **MESSAGE_PROPS,
            "url": {"type": "string", "pattern": "^https?://", "maxLength": 1000},
            "paid_event": EVENT_NAME,
            "timeout_s": SECONDS,
        },
        ["url", "template", "timeout_s"],
    )
    form = (
        [
            {
                "name": "url",
                "label": "Payment URL",
                "widget": "text",
                "help": "e.g. https://pay.example.com/{{contact.external_id}}",
            }
        ]
        + MESSAGE_FORM
        + [
            {"name": "paid_event", "label": "Payment event", "widget": "event"},
            {"name": "timeout_s", "label": "Wait for the payment", "widget": "duration"},
        ]
    )
    exits = ("paid", "timeout", "failed")
    defaults = {"url": "https://pay.example.com/{{contact.external_id}}", "template": {"en": "Pay securely here: {{link}}"},
                "paid_event": "payment_completed", "timeout_s": 3 * 86400}  # fmt: skip

    def waiting_exits(self, config):
        return frozenset({"paid", "timeout"})

    def check(self, config, ctx):
        problems = check_message(config, ctx) + ctx.check_event(
            config.get("paid_event", "payment_completed"), "paid_event"
        )
        problems += ctx.check_merge_fields(config.get("url"), "url")
        for lang, text in (config.get("template") or {}).items():
            if "{{link}}" not in text.replace(" ", ""):
                problems.append((f"template.{lang}", "The text must contain {{link}}."))
        return problems

    def enter(self, run):
        link = run.render(run.config["url"])
        run.context["payment_link"] = link
        text = run.render(run.pick(run.config["template"]), extra={"link": link})
        return send(message_request(run, run.config, text, purpose=run.config.get("purpose", "collections")))

    def resume(self, run, signal):
        if signal.kind == "sent":
            exit_, detail = sent_exit(signal.data)
            if exit_ == "failed":
                return go("failed", **detail)
            return wait(
                "event",
                event=run.config.get("paid_event", "payment_completed"),
                until=run.after(run.config["timeout_s"]),
            )
        if signal.kind == "timeout":
            return go("timeout")
        return go("paid", event_id=signal.data.get("event_id"))


NODE = PaymentLink()
