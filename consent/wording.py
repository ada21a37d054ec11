"""The one place a consent decision becomes words for people: a short headline from its rule
("No marketing opt-in on WhatsApp"), the verb for its outcome ("Not sent", "Deferred until
…"), and the decision's own reason as the detail. Every screen that shows a blocked or deferred
send (the editor's test run, a contact's journey history, the simulator, the inbox) uses it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from contacts.models import ChannelKind


def _channel(kind: str) -> str:
    return ChannelKind(kind).label if kind in ChannelKind.values else (kind or "this channel")


def _purpose(purpose: str) -> str:
    return (purpose or "").replace("_", " ").lower()


def decision_headline(rule: str, *, purpose: str = "", channel_kind: str = "") -> str:
    """A few words naming what decided: "No marketing opt-in on WhatsApp"."""
    p, c = _purpose(purpose), _channel(channel_kind)
    headlines = {
        "consent.missing": f"No {p} opt-in on {c}",
        "consent.opted_out": f"Opted out of {p} on {c}",
        "consent.pending": f"{p.capitalize()} opt-in on {c} not confirmed yet",
        "consent.expired": f"{p.capitalize()} consent on {c} expired",
        "consent.suppressed": f"Stopped all messages on {c}",
        "suppression": f"{c} address on the suppression list",
        "address.missing": f"No {c} address",
        "whatsapp.window": "Outside WhatsApp's 24-hour window",
        "quiet_hours": f"Quiet hours for {p}" if p else "Quiet hours",
        "frequency_cap": f"Frequency cap for {p} reached" if p else "Frequency cap reached",
        "vulnerability": f"Vulnerable customer: no automated {p}",
        "purpose.unknown": f"Unknown purpose '{purpose}'",
    }
    return headlines.get(rule) or (rule.replace("_", " ").replace(".", ": ").capitalize() if rule else "")


@dataclass(frozen=True)
class DecisionWords:
    outcome: str  # "deny" | "defer" | "allow"
    verb: str  # "Not sent", "Deferred until 2026-05-01 08:00"
    headline: str
    rule: str
    reason: str

    @property
    def text(self) -> str:
        """One line: "Not sent: No marketing opt-in on WhatsApp. <the decision's reason>"."""
        head = f"{self.verb}: {self.headline}" if self.headline else self.verb
        return f"{head}. {self.reason}" if self.reason else head

    def as_json(self) -> dict:
        return {"outcome": self.outcome, "verb": self.verb, "headline": self.headline, "rule": self.rule,
                "reason": self.reason, "text": self.text}  # fmt: skip


def decision_words(
    outcome: str,
    rule: str,
    reason: str,
    *,
    purpose: str = "",
    channel_kind: str = "",
    until: dt.datetime | None = None,
    tz=None,
) -> DecisionWords:
    """A decision (outcome, rule, reason: what `check` returns and a message stores) in words.
    `until` (a deferral's next allowed time) is shown in `tz` (default UTC)."""
    if outcome == "defer":
        verb = f"Deferred until {until.astimezone(tz or dt.UTC):%Y-%m-%d %H:%M}" if until else "Deferred"
    elif outcome == "deny":
        verb = "Not sent"
    else:
        verb = "Allowed"
    headline = decision_headline(rule, purpose=purpose, channel_kind=channel_kind)
    return DecisionWords(outcome, verb, headline, rule, reason)
