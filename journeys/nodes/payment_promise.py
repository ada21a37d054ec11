"""payment.promise: asks when (and optionally how much) the contact will pay, offering options
as quick replies or reading a free answer ("tomorrow", "friday", "in 3 days", "2026-12-01",
"50 on the 12/3"); records a PromiseToPay and confirms it; then (unless told to continue at
once) reminds on the promised day and waits for the payment event.
Exits: paid (the payment event arrives), broken (the day passes unpaid), promised (recorded and
not waiting), no_response (no usable answer in time), failed (could not ask)."""

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from .base import (
    EVENT_NAME,
    LANG_TEXT,
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
from .trigger_segment import TIME
from .wait_until import wall

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MAX_INVALID = 2
DEFAULT_REMINDER = {"en": "Reminder: the payment you promised is due today ({{promise.date}})."}


def parse_promise(
    text: str, today: dt.date, *, day_first: bool = True
) -> tuple[dt.date | None, Decimal | None]:
    """(date, amount) read from a reply; either may be None."""
    t = (text or "").casefold()
    when = None
    rest = t
    iso = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", t)
    slash = re.search(r"\b(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2,4}))?\b", t)
    if iso:
        try:
            when = dt.date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            when = None
        rest = t.replace(iso.group(0), " ")
    elif slash:
        a, b = int(slash.group(1)), int(slash.group(2))
        day, month = (a, b) if day_first else (b, a)
        year = int(slash.group(3)) if slash.group(3) else today.year
        year = year + 2000 if year < 100 else year
        try:
            when = dt.date(year, month, day)
            if not slash.group(3) and when < today:
                when = dt.date(year + 1, month, day)
        except ValueError:
            when = None
        rest = t.replace(slash.group(0), " ")
    elif "day after tomorrow" in t:
        when = today + dt.timedelta(days=2)
    elif "tomorrow" in t or "tmrw" in t:
        when = today + dt.timedelta(days=1)
    elif re.search(r"\btoday\b|\btonight\b|\bnow\b", t):
        when = today
    elif "next week" in t:
        when = today + dt.timedelta(days=7)
    else:
        m = re.search(r"\bin (\d{1,2}) days?\b", t)
        if m:
            when = today + dt.timedelta(days=int(m.group(1)))
            rest = t.replace(m.group(0), " ")
        else:
            for i, name in enumerate(WEEKDAYS):
                if re.search(rf"\b{name}\b|\b{name[:3]}\b", t):
                    ahead = (i - today.weekday()) % 7 or 7
                    when = today + dt.timedelta(days=ahead)
                    break
    amount = None
    m = re.search(r"(?:[£$€]\s*)?(\d+(?:[.,]\d{1,2})?)\s*(?:gbp|usd|eur|pounds?|dollars?|euros?)?", rest)
    if m and (
        re.search(r"[£$€]|gbp|usd|eur|pound|dollar|euro", m.group(0))
        or "." in m.group(1)
        or not when
        or len(m.group(1)) >= 2
    ):
        try:
            amount = Decimal(m.group(1).replace(",", "."))
        except InvalidOperation:
            amount = None
    return when, amount


class PaymentPromise(Node):
    type = "payment.promise"
    category = "action"
    label = "Promise to pay"
    icon = "handshake"
    help = "Asks for a payment date (and amount), records a promise to pay, reminds on the day and waits for the payment."
    schema = obj(
        {
            **MESSAGE_PROPS,
            "options": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 20},
                "maxItems": 10,
            },
            "timeout_s": SECONDS,
            "max_days": {"type": "integer", "minimum": 0, "maximum": 90},
            "confirm_template": LANG_TEXT,
            "reminder_template": LANG_TEXT,
            "remind_at": TIME,
            "grace_days": {"type": "integer", "minimum": 0, "maximum": 30},
            "paid_event": EVENT_NAME,
            "wait_for_payment": {"type": "boolean"},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        },
        ["template", "timeout_s"],
    )
    form = [
        {"name": "template", "label": "Question per language", "widget": "localized_text"},
        {
            "name": "options",
            "label": "Offered answers",
            "widget": "tags",
            "help": "e.g. Today, Tomorrow, Next week",
        },
        {"name": "channel", "label": "Channel", "widget": "channel"},
        {
            "name": "purpose",
            "label": "Purpose",
            "widget": "select",
            "options": ["collections", "transactional"],
        },
        {"name": "timeout_s", "label": "Wait for an answer", "widget": "duration"},
        {"name": "max_days", "label": "Latest promise (days ahead)", "widget": "number"},
        {
            "name": "confirm_template",
            "label": "Confirmation",
            "widget": "localized_text",
            "help": "{{promise.date}}, {{promise.amount}}",
        },
        {"name": "reminder_template", "label": "Reminder on the day", "widget": "localized_text"},
        {"name": "remind_at", "label": "Remind at (contact's time)", "widget": "time"},
        {"name": "grace_days", "label": "Days of grace", "widget": "number"},
        {"name": "paid_event", "label": "Payment event", "widget": "event"},
        {"name": "wait_for_payment", "label": "Wait for the payment", "widget": "checkbox", "default": True},
    ]
    defaults = {"template": {"en": "When can you pay? Reply with a date."}, "options": ["Today", "Tomorrow", "Next week"],
                "timeout_s": 86400, "purpose": "collections", "paid_event": "payment_completed", "wait_for_payment": True}  # fmt: skip

    def waiting_exits(self, config):
        return frozenset(self.exit_names(config)) - {"failed"}  # failed: the send, at once

    def exit_names(self, config):
        if config.get("wait_for_payment", True):
            return ["paid", "broken", "no_response", "failed"]
        return ["promised", "paid", "no_response", "failed"]

    def check(self, config, ctx):
        return check_message(config, ctx) + ctx.check_event(
            config.get("paid_event", "payment_completed"), "paid_event"
        )

    def _send(self, run, texts: dict, stage: str, extra=None):
        run.state["stage"] = stage
        cfg = dict(run.config)
        cfg["quick_replies"] = cfg.get("options") if stage == "ask" else []
        channel = (run.state.get("promise") or {}).get("channel")
        if stage == "remind" and channel:  # the reminder channel the agent chose with the customer
            cfg["channel"], cfg["fallback"] = channel, []
        text = run.render(run.pick(texts), extra=extra)
        return send(message_request(run, cfg, text, purpose=cfg.get("purpose", "collections")))

    def enter(self, run):
        adopted = run.adopt_promise()  # a promise an agent recorded before the contact got here
        if adopted is not None:
            return self._promised(run, adopted)
        return self._send(run, run.config["template"], "ask")

    def _promised(self, run, promise: dict):
        """A promise told to a person (journeys.services.promise_record): no question, no
        confirmation (the agent gave it); an earlier promise of this node is replaced; then the
        same reminder and wait for the payment as a promise the contact wrote."""
        earlier = run.state.get("promise") or {}
        if earlier.get("id") and earlier["id"] != promise["id"]:
            run.settle_promise("cancelled")
        run.state["promise"] = promise
        run.context["promise"] = promise
        return self._after_confirm(run)

    def _after_confirm(self, run):
        cfg = run.config
        paid_event = cfg.get("paid_event", "payment_completed")
        if not cfg.get("wait_for_payment", True):
            return go("promised", promise=run.state.get("promise"))
        due = dt.date.fromisoformat(run.state["promise"]["date"])
        remind = wall(due, cfg.get("remind_at", "09:00"), run.contact_zone())
        if remind > run.now and self._reminder_texts(run):
            run.state["stage"] = "promised"
            return wait("event", event=paid_event, until=remind)
        return self._wait_deadline(run, due, paid_event)

    def _reminder_texts(self, run) -> dict | None:
        # a reminder channel chosen with an agent asks for a reminder even where the node has none
        if run.config.get("reminder_template"):
            return run.config["reminder_template"]
        if (run.state.get("promise") or {}).get("channel"):
            return DEFAULT_REMINDER
        return None

    def resume(self, run, signal):
        cfg = run.config
        paid_event = cfg.get("paid_event", "payment_completed")
        stage = run.state.get("stage", "ask")
        if signal.kind == "event" and signal.data.get("name") == paid_event:
            run.settle_promise("paid")
            return go("paid")
        if signal.kind == "sent":
            exit_, detail = sent_exit(signal.data)
            if exit_ == "failed" and stage == "ask":
                return go("failed", **detail)
            if stage == "ask":
                run.state["until"] = run.after(int(cfg["timeout_s"])).isoformat()
                return wait("reply", event=paid_event, until=run.after(int(cfg["timeout_s"])))
            if stage == "confirm":
                return self._after_confirm(run)
            if stage == "remind":
                due = dt.date.fromisoformat(run.state["promise"]["date"])
                return self._wait_deadline(run, due, paid_event)
        if signal.kind == "promise":
            return self._promised(run, signal.data["promise"])
        if signal.kind == "timeout":
            if stage == "ask":
                return go("no_response")
            if stage == "promised":
                return self._send(run, self._reminder_texts(run), "remind", extra=self._extra(run))
            run.settle_promise("broken")
            return go("broken", promise=run.state.get("promise"))
        if signal.kind == "reply" and stage == "ask":
            today = run.now.astimezone(run.contact_zone()).date()
            when, amount = parse_promise(
                signal.data.get("text", ""), today, day_first=run.workspace.default_country != "US"
            )
            max_days = int(cfg.get("max_days", 30))
            if when is None or when < today or (when - today).days > max_days:
                run.state["invalid"] = run.state.get("invalid", 0) + 1
                if run.state["invalid"] > MAX_INVALID:
                    return go("no_response", reason="no date in the replies")
                return wait("reply", event=paid_event, until=dt.datetime.fromisoformat(run.state["until"]))
            promise = run.create_promise(
                due_date=when,
                amount=amount,
                currency=cfg.get("currency", ""),
                text=signal.data.get("text", ""),
            )
            run.state["promise"] = {
                "id": promise.pk,
                "date": when.isoformat(),
                "amount": str(amount) if amount else "",
            }
            run.context["promise"] = run.state["promise"]
            texts = cfg.get("confirm_template") or {
                "en": "Thank you. We have noted your promise to pay on {{promise.date}}."
            }
            return self._send(run, texts, "confirm", extra=self._extra(run))
        # a reply while waiting for the payment changes nothing
        return wait(run.enrollment.wait_kind or "event", event=paid_event, until=run.enrollment.wait_until)

    def _extra(self, run):
        p = run.state.get("promise") or {}
        return {"promise.date": p.get("date", ""), "promise.amount": p.get("amount", "")}

    def _wait_deadline(self, run, due: dt.date, paid_event: str):
        run.state["stage"] = "deadline"
        grace = int(run.config.get("grace_days", 0))
        until = wall(due + dt.timedelta(days=grace + 1), "00:00", run.contact_zone())
        return wait("event", event=paid_event, until=until)


NODE = PaymentPromise()
