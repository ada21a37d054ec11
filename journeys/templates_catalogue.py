"""Journey templates: the journeys the seeds describe, as ready, valid graphs to start from.
Each entry builds {"name", "description", "graph", "rules", "attributes"}; `attributes` are the
date/number attributes the graph reads, created when a journey is made from the template."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def n(type_, config=None, x=0, y=0, **exits):
    return {"type": type_, "config": config or {}, "position": {"x": x, "y": y}, "exits": exits}


def send(text, x, y, *, purpose, channel="preferred", next=None, failed=None, **config):
    """A message.send node with an English template; its exits end unless given."""
    config = {"channel": channel, "purpose": purpose, **config, "template": {"en": text}}
    return n("message.send", config, x, y, next=next, failed=failed)


def g(first, **nodes):
    return {"schema": 1, "start": first, "nodes": nodes}


def otp_onboarding():
    return {
        "name": "OTP onboarding",
        "description": "Verify a new sign-up by SMS, then WhatsApp, then a voice call; welcome them or pass them to support.",
        "graph": g(
            "signup",
            signup=n("trigger.event", {"event": "signup"}, 40, 40, next="otp"),
            otp=n(
                "otp.verify",
                {
                    "channels": ["sms", "whatsapp", "voice"],
                    "fallback_after_s": 30,
                    "expiry_s": 300,
                    "max_attempts": 3,
                },
                40,
                180,
                verified="welcome",
                failed="support",
                expired="support",
            ),
            welcome=n(
                "message.send",
                {
                    "channel": "preferred",
                    "purpose": "transactional",
                    "template": {
                        "en": "Welcome, {{contact.first_name|there}}! Your account is verified.",
                        "fr": "Bienvenue, {{contact.first_name|}} ! Votre compte est vérifié.",
                        "es": "¡Bienvenido, {{contact.first_name|}}! Tu cuenta está verificada.",
                    },
                },
                -160,
                340,
                next=None,
                failed=None,
            ),
            support=n(
                "inbox.handoff",
                {
                    "queue": "support",
                    "priority": "normal",
                    "note": "Could not verify {{contact.phone}} at sign-up.",
                },
                240,
                340,
                next=None,
            ),
        ),
        "rules": {"allow_reentry": True, "one_active": True},
    }


def activation_nudge():
    return {
        "name": "Activation nudge",
        "description": "Nudge new customers who have not made their first transaction after two days, then once more.",
        "graph": g(
            "signup",
            signup=n("trigger.event", {"event": "signup"}, 40, 40, next="wait"),
            wait=n(
                "wait.event",
                {"event": "first_transaction", "timeout_s": 2 * 86400},
                40,
                180,
                event=None,
                timeout="nudge",
            ),
            nudge=send(
                "Hi {{contact.first_name|there}}, your account is ready. Make your first transfer in 2 minutes.",
                40,
                320,
                purpose="marketing",
                next="wait2",
            ),
            wait2=n(
                "wait.event",
                {"event": "first_transaction", "timeout_s": 3 * 86400},
                40,
                460,
                event=None,
                timeout="tip",
            ),
            tip=send(
                "Need a hand getting started? Tap below for a 30-second guide.",
                40,
                600,
                purpose="marketing",
                buttons=["Show me", "Later"],
            ),
            activated=n("goal", {"event": "first_transaction"}, 320, 40),
        ),
    }


def abandoned_cart():
    return {
        "name": "Abandoned cart",
        "description": "Remind after an hour; if there is still no purchase of that cart a day later, offer a discount.",
        "graph": g(
            "cart",
            cart=n("trigger.event", {"event": "cart_abandoned"}, 40, 40, next="wait"),
            wait=n(
                "wait.event",
                {"event": "purchase", "match": {"cart_id": "{{event.cart_id}}"}, "timeout_s": 3600},
                40,
                180,
                event=None,
                timeout="remind",
            ),
            remind=send(
                "You left something in your cart, {{contact.first_name|}}. It is saved for you: {{event.cart_url|}}",
                40,
                320,
                purpose="marketing",
                next="wait2",
            ),
            wait2=n(
                "wait.event",
                {"event": "purchase", "match": {"cart_id": "{{event.cart_id}}"}, "timeout_s": 86400},
                40,
                460,
                event=None,
                timeout="discount",
            ),
            discount=send(
                "Still thinking it over? Here is 10% off your cart with code CART10, valid 48 hours.",
                40,
                600,
                purpose="marketing",
            ),
            bought=n("goal", {"event": "purchase"}, 320, 40),
        ),
    }


def post_purchase_rating():
    return {
        "name": "Post-purchase rating",
        "description": "Two hours after delivery ask for a 1–5 rating in the chat; unhappy customers go to support.",
        "graph": g(
            "delivered",
            delivered=n("trigger.event", {"event": "order_delivered"}, 40, 40, next="later"),
            later=n("wait.delay", {"seconds": 7200}, 40, 160, next="rate"),
            rate=n(
                "survey.rating",
                {
                    "scale": "csat",
                    "channel": "preferred",
                    "purpose": "transactional",
                    "timeout_s": 86400,
                    "template": {
                        "en": "How was your order {{event.order_id|}}? Reply 1 (poor) to 5 (great)."
                    },
                },
                40,
                300,
                happy="review",
                neutral="thanks",
                unhappy="support",
                no_response=None,
                failed=None,
            ),
            review=n(
                "message.send",
                {
                    "channel": "preferred",
                    "template": {"en": "Thank you! Would you share it in a review? {{event.review_url|}}"},
                },
                -200,
                460,
                next=None,
                failed=None,
            ),
            thanks=n(
                "message.send",
                {"channel": "preferred", "template": {"en": "Thanks for the feedback, we keep improving."}},
                40,
                460,
                next=None,
                failed=None,
            ),
            support=n(
                "inbox.handoff",
                {
                    "queue": "support",
                    "priority": "high",
                    "note": "Rated order {{event.order_id|}} {{context.rating}}/5.",
                },
                280,
                460,
                next=None,
            ),
        ),
    }


def loyalty_points_expiry():
    return {
        "name": "Loyalty points expiry",
        "description": "A week before points expire remind the member, and again the day before.",
        "attributes": {"points": "number", "points_expire_on": "date"},
        "graph": g(
            "expiry",
            expiry=n(
                "trigger.date_attribute",
                {"attribute": "points_expire_on", "offset_days": -7, "at": "10:00"},
                40,
                40,
                next="remind",
            ),
            remind=send(
                "{{contact.first_name|Hi}}, your {{contact.points|}} points expire on {{contact.points_expire_on}}. Treat yourself!",
                40,
                180,
                purpose="marketing",
                next="daybefore",
            ),
            daybefore=n(
                "wait.until",
                {"mode": "attribute", "attribute": "points_expire_on", "offset_days": -1, "time": "10:00"},
                40,
                320,
                next="last",
                missing=None,
            ),
            last=send("Last day tomorrow: your points expire. Use them now.", 40, 460, purpose="marketing"),
        ),
    }


def birthday_reward():
    return {
        "name": "Birthday reward",
        "description": "On the morning of the customer's birthday send a reward, on WhatsApp when we can, else SMS.",
        "attributes": {"next_birthday": "date"},
        "graph": g(
            "birthday",
            birthday=n(
                "trigger.date_attribute",
                {"attribute": "next_birthday", "offset_days": 0, "at": "09:00"},
                40,
                40,
                next="where",
            ),
            where=n(
                "split.condition",
                {
                    "rules": [
                        {
                            "exit": "whatsapp",
                            "conditions": [
                                {"source": "channel", "op": "available", "channel": "whatsapp"},
                                {
                                    "source": "consent",
                                    "op": "allowed",
                                    "channel": "whatsapp",
                                    "purpose": "marketing",
                                },
                            ],
                        }
                    ]
                },
                40,
                180,
                whatsapp="wa",
                **{"else": "sms"},
            ),
            wa=send(
                "Happy birthday, {{contact.first_name|}}! 🎂 Your gift: code BDAY20 for 20% off.",
                -160,
                320,
                purpose="marketing",
                channel="whatsapp",
                media_url="https://example.com/cake.png",
                failed="sms",
            ),
            sms=send(
                "Happy birthday {{contact.first_name|}}! Gift: 20% off with BDAY20.",
                200,
                320,
                purpose="marketing",
                channel="sms",
            ),
        ),
        "rules": {"allow_reentry": True},
    }


def churn_reengagement():
    return {
        "name": "Churn re-engagement",
        "description": "Start it for a segment of inactive customers: a we-miss-you message, then an A/B test of two offers.",
        "graph": g(
            "start",
            start=n("trigger.manual", {}, 40, 40, next="miss"),
            miss=send(
                "We miss you, {{contact.first_name|}}! Here is what is new since your last visit.",
                40,
                180,
                purpose="marketing",
                next="wait",
            ),
            wait=n(
                "wait.event",
                {"event": "app_opened", "timeout_s": 7 * 86400},
                40,
                320,
                event=None,
                timeout="offer",
            ),
            offer=n(
                "split.ab",
                {
                    "experiment": "winback offer",
                    "variants": [{"exit": "discount", "weight": 50}, {"exit": "free_month", "weight": 50}],
                },
                40,
                460,
                discount="discount",
                free_month="month",
            ),
            discount=send("Come back with 25% off: code BACK25.", -160, 600, purpose="marketing"),
            month=send("Your next month is on us: code FREEMONTH.", 240, 600, purpose="marketing"),
            back=n("goal", {"event": "app_opened"}, 320, 40),
        ),
    }


def collections_call_warmup():
    return {
        "name": "Collections call warm-up",
        "description": "Before an agent calls, tell the customer when, and let them confirm, reschedule or talk now.",
        "graph": g(
            "scheduled",
            scheduled=n("trigger.event", {"event": "call_scheduled"}, 40, 40, next="ask"),
            ask=n(
                "message.ask",
                {
                    "channel": "sms",
                    "purpose": "collections",
                    "timeout_s": 4 * 3600,
                    "template": {
                        "en": "Hi {{contact.first_name|}}, {{event.agent|an adviser}} will call you at {{event.time|today}} about your account. Reply 1 to confirm, 2 to pick another time, 3 to talk now."
                    },
                    "branches": [
                        {"exit": "confirm", "match": "keywords", "values": ["1", "ok", "confirm"]},
                        {"exit": "reschedule", "match": "keywords", "values": ["2", "later", "reschedule"]},
                        {"exit": "now", "match": "keywords", "values": ["3", "now", "call"]},
                    ],
                },
                40,
                180,
                confirm="thanks",
                reschedule="resched",
                now="callnow",
                other="resched",
                timeout=None,
                failed=None,
            ),
            thanks=send("Thanks, speak soon.", -200, 340, purpose="collections", channel="sms"),
            resched=n(
                "inbox.handoff",
                {
                    "queue": "collections",
                    "priority": "normal",
                    "note": "Asked to reschedule the call: {{context.last_reply|}}",
                },
                40,
                340,
                next=None,
            ),
            callnow=n(
                "inbox.handoff",
                {"queue": "collections", "priority": "urgent", "note": "Wants to talk now."},
                280,
                340,
                next=None,
            ),
        ),
    }


def collections_promise_to_pay():
    return {
        "name": "Collections promise to pay",
        "description": "Three days after the due date: vulnerable customers go to a person; others are asked for a promise "
        "to pay with reminders; a broken promise gets a payment link; no answer goes to an agent.",
        "attributes": {"due_date": "date", "balance": "number"},
        "graph": g(
            "overdue",
            overdue=n(
                "trigger.date_attribute",
                {"attribute": "due_date", "offset_days": 3, "at": "10:00"},
                40,
                40,
                next="vulnerable",
            ),
            vulnerable=n(
                "split.condition",
                {
                    "rules": [
                        {
                            "exit": "care",
                            "conditions": [{"source": "field", "key": "is_vulnerable", "op": "is_true"}],
                        }
                    ]
                },
                40,
                160,
                care="care",
                **{"else": "promise"},
            ),
            care=n(
                "inbox.handoff",
                {
                    "queue": "vulnerable-care",
                    "priority": "high",
                    "note": "Vulnerable customer with an overdue balance of {{contact.balance|?}}: contact by a person only.",
                },
                -240,
                300,
                next=None,
            ),
            promise=n(
                "payment.promise",
                {
                    "channel": "preferred",
                    "purpose": "collections",
                    "timeout_s": 2 * 86400,
                    "max_days": 14,
                    "template": {
                        "en": "Hi {{contact.first_name|}}, your payment of £{{contact.balance|}} is overdue. When can you pay? Reply with a date."
                    },
                    "options": ["Today", "Tomorrow", "Next week"],
                    "confirm_template": {
                        "en": "Thank you. We have noted your promise to pay on {{promise.date}}."
                    },
                    "reminder_template": {
                        "en": "A reminder: you promised to pay today. Reply HELP to talk to us."
                    },
                    "remind_at": "09:00",
                    "paid_event": "payment_completed",
                },
                40,
                300,
                paid="thanks",
                broken="link",
                no_response="agent",
                failed="agent",
            ),
            link=n(
                "payment.link",
                {
                    "channel": "preferred",
                    "purpose": "collections",
                    "timeout_s": 3 * 86400,
                    "url": "https://pay.example.com/{{contact.external_id|account}}",
                    "template": {
                        "en": "We did not receive your payment. You can pay securely here: {{link}}"
                    },
                },
                200,
                460,
                paid="thanks",
                timeout="agent",
                failed="agent",
            ),
            thanks=send("Payment received. Thank you!", -120, 620, purpose="collections"),
            agent=n(
                "inbox.handoff",
                {
                    "queue": "collections",
                    "priority": "high",
                    "note": "No response / broken promise: call the customer.",
                },
                240,
                620,
                next=None,
            ),
        ),
    }


TEMPLATES = {
    "otp_onboarding": otp_onboarding,
    "activation_nudge": activation_nudge,
    "abandoned_cart": abandoned_cart,
    "post_purchase_rating": post_purchase_rating,
    "loyalty_points_expiry": loyalty_points_expiry,
    "birthday_reward": birthday_reward,
    "churn_reengagement": churn_reengagement,
    "collections_call_warmup": collections_call_warmup,
    "collections_promise_to_pay": collections_promise_to_pay,
}


def template_graph(key: str, *, workspace=None) -> dict:
    """The template's spec; with a workspace, the attributes it reads are created there first."""
    if key not in TEMPLATES:
        raise ValidationError({"template": [f"Unknown template '{key}' (one of {', '.join(TEMPLATES)})."]})
    spec = TEMPLATES[key]()
    if workspace is not None:
        from contacts.models import AttributeDefinition

        for attr, type_ in (spec.get("attributes") or {}).items():
            AttributeDefinition.objects.get_or_create(
                workspace=workspace,
                key=attr,
                defaults={"label": attr.replace("_", " ").capitalize(), "type": type_},
            )
    return spec
