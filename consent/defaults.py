"""The registry's built-in defaults, each with its source. docs/consent.md explains them for a
compliance review; a workspace changes them on the policies page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WORKSPACE_QUIET_START = dt.time(21, 0)
WORKSPACE_QUIET_END = dt.time(8, 0)
WHATSAPP_WINDOW = dt.timedelta(hours=24)
# In replies: {workspace}, {brand} (the policy's brand name, else the workspace's name) and
# {support} (the policy's support contact, else this, by the reply's language: the conversation
# itself reaches a person).
SUPPORT_FALLBACK = {
    "": "a reply to this message",
    "fr": "une réponse à ce message",
    "es": "una respuesta a este mensaje",
}
# A person (an agent) may answer inside quiet hours only a conversation the customer started this
# recently: Regulation F's official interpretation of 12 CFR 1006.6(b)(1) lets a collector respond
# at an inconvenient time to a communication the consumer initiated at that time, not later.
# Django setting CONSENT_CONVERSATION_WINDOW_S overrides it (docs/consent.md).
CONVERSATION_WINDOW = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class PurposeSpec:
    """A purpose as check() applies it (built-in, overridden or custom)."""

    key: str
    label: str
    rule: str  # "opt_in" | "unless_opted_out"
    default_basis: str
    quiet_hours: str  # "workspace" | "custom" | "none"
    quiet_start: dt.time | None = None
    quiet_end: dt.time | None = None
    vulnerable_blocked: bool = False
    description: str = ""
    builtin: bool = False
    source: str = ""

    @property
    def needs_opt_in(self) -> bool:
        return self.rule == "opt_in"


BUILTIN_PURPOSES: dict[str, PurposeSpec] = {
    spec.key: spec
    for spec in [
        PurposeSpec(
            key="transactional",
            label="Transactional",
            rule="unless_opted_out",
            default_basis="contract",
            quiet_hours="none",
            description="Order, delivery, account and service messages the contract needs.",
            builtin=True,
            source="UK GDPR Art. 6(1)(b) (contract); PECR reg. 22 covers marketing only.",
        ),
        PurposeSpec(
            key="otp",
            label="One-time passcodes",
            rule="unless_opted_out",
            default_basis="contract",
            quiet_hours="none",
            description="Verification codes the person just asked for: never delayed.",
            builtin=True,
            source="UK GDPR Art. 6(1)(b); requested by the person in real time.",
        ),
        PurposeSpec(
            key="collections",
            label="Collections",
            rule="unless_opted_out",
            default_basis="legal_obligation",
            quiet_hours="custom",
            quiet_start=dt.time(21, 0),
            quiet_end=dt.time(8, 0),
            vulnerable_blocked=True,
            description="Debt collection: only 08:00-21:00 in the contact's time; never automated to "
            "vulnerable customers.",
            builtin=True,
            source="CFPB Regulation F 12 CFR 1006.6(b)(1)(i) (before 8am / after 9pm is inconvenient); "
            "FCA CONC 7.2 / FG21/1 (vulnerable customers).",
        ),
        PurposeSpec(
            key="marketing",
            label="Marketing",
            rule="opt_in",
            default_basis="consent",
            quiet_hours="workspace",
            vulnerable_blocked=True,
            description="Promotions and offers: explicit opt-in per channel.",
            builtin=True,
            source="PECR reg. 22 / ePrivacy Art. 13 (prior consent for electronic marketing); "
            "TCPA 47 CFR 64.1200(a)(2) (prior express written consent).",
        ),
        PurposeSpec(
            key="surveys",
            label="Surveys",
            rule="unless_opted_out",
            default_basis="legitimate_interest",
            quiet_hours="workspace",
            description="Service feedback (NPS, CSAT) without promotion; anyone can opt out.",
            builtin=True,
            source="UK GDPR Art. 6(1)(f) and Art. 21 (right to object); ICO direct marketing guidance "
            "(research that promotes is marketing: then set this purpose to opt-in).",
        ),
    ]
}


@dataclass(frozen=True)
class CapSpec:
    purpose: str
    channel_kind: str  # "" = all channels together
    limit: int
    period_hours: int
    source: str


DEFAULT_CAPS = [
    CapSpec("marketing", "", 3, 7 * 24, "Workspace policy: at most 3 marketing messages in 7 days."),
    CapSpec(
        "collections",
        "voice",
        7,
        7 * 24,
        "CFPB Regulation F 12 CFR 1006.14(b)(2)(i): more than 7 calls in 7 days is presumed harassment.",
    ),
]

# (word, language, action). Blank language: every language. STOP words are honoured whatever the
# contact's language (missing an opt-out is the costly mistake).
DEFAULT_KEYWORDS = [
    *[
        (w, "", "stop")
        for w in ("STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "REVOKE", "OPTOUT")
    ],
    *[(w, "", "start") for w in ("START", "UNSTOP", "YES")],
    *[(w, "", "help") for w in ("HELP", "INFO")],
    ("ARRET", "fr", "stop"),
    ("DESABONNER", "fr", "stop"),
    ("AIDE", "fr", "help"),
    ("BAJA", "es", "stop"),
    ("ALTA", "es", "start"),
    ("AYUDA", "es", "help"),
]

DEFAULT_REPLIES = [
    (
        "stop",
        "",
        "{workspace}: you are unsubscribed and will get no more messages on this channel. "
        "Reply START to subscribe again.",
    ),
    ("start", "", "{workspace}: you are subscribed again. Reply STOP to unsubscribe, HELP for help."),
    (
        "help",
        "",
        "{brand}: for help contact {support}. Msg & data rates may apply. Reply STOP to unsubscribe, "
        "START to subscribe again.",
    ),
    (
        "stop",
        "fr",
        "{workspace} : vous êtes désabonné et ne recevrez plus de messages sur ce canal. "
        "Répondez START pour vous réabonner.",
    ),
    (
        "help",
        "fr",
        "{brand} : aide au {support}. Des frais de messagerie peuvent s'appliquer. Répondez ARRET pour "
        "vous désabonner, START pour vous réabonner.",
    ),
    (
        "stop",
        "es",
        "{workspace}: se ha dado de baja y no recibirá más mensajes por este canal. "
        "Responda ALTA para volver a suscribirse.",
    ),
    ("start", "es", "{workspace}: se ha suscrito de nuevo. Responda BAJA para darse de baja."),
    (
        "help",
        "es",
        "{brand}: ayuda en {support}. Pueden aplicarse tarifas de mensajes. Responda BAJA para darse de "
        "baja, ALTA para suscribirse de nuevo.",
    ),
]

# Multi-word revocations honoured by default (FCC 24-24, 47 CFR 64.1200(a)(10): consent may be
# revoked "by any reasonable means"; CTIA 2023 expects "please opt me out" to be honoured). A short
# message (at most REVOCATION_MAX_WORDS words) revokes when it holds a STOP word or one of these
# phrases and every other word is one of the filler words below. Phrases and fillers are written
# naturally and normalised like messages (accents, case, punctuation). Other messages that hold a
# STOP word go to the review list on the consent pages: a person decides.
REVOCATION_MAX_WORDS = 8
REVOCATION_PHRASES = {
    "en": [
        "opt me out",
        "opt out",
        "remove me",
        "take me off",
        "don't text me",
        "dont text me",
        "do not text me",
        "don't message me",
        "do not message me",
        "don't contact me",
        "do not contact me",
        "don't call me",
        "do not call me",
        "no more texts",
        "no more messages",
        "leave me alone",
        "unsubscribe me",
    ],
    "fr": ["ne m'envoyez plus", "désinscrivez-moi", "plus de messages", "me désabonner", "désabonnez-moi"],
    "es": ["no me envíen más", "darme de baja", "no más mensajes", "no me escriban más"],
}
REVOCATION_FILLERS = {
    "en": "please pls plz me now thanks thank you thx it this that all any texts text texting messages "
    "message messaging sending send sms calls calling call emails email from us your you the these them "
    "to ok okay and no more of on off list number my subscription asap immediately right away just "
    "anymore again ever",
    "fr": "s'il vous plaît plait svp merci moi me les ces messages sms tout tous de m'envoyer envoyer plus "
    "maintenant",
    "es": "por favor gracias me mi los las mensajes sms todo todos de ya más mas enviar ahora",
}
