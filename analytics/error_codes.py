"""What a provider's error code means, in words an operator can act on (the messaging health page
and its API). Known codes per provider family; the sandbox plays Twilio's codes, and any provider
whose name says WhatsApp or Meta uses the WhatsApp Business Platform's. Our own codes (consent,
outcome_unknown...) apply to every provider. Sources: Twilio's error dictionary, Meta's WhatsApp
Cloud API error codes."""

from __future__ import annotations

OURS = {
    "consent": "Blocked by the consent check (suppression, no consent, quiet hours, a frequency cap): see the rule.",
    "outcome_unknown": "The provider call timed out or the connection broke after sending: it may have gone; a receipt or a status check settles it.",
    "refused": "The channel's API address is not allowed (the outbound address check).",
    "channel_disabled": "The channel was disabled while the message waited.",
    "failed": "The provider refused the message without a code.",
}

TWILIO = {
    "21211": "Invalid 'To' number: it is not a phone number Twilio accepts.",
    "21408": "Sending to this country is not enabled on the Twilio account (Geo permissions).",
    "21610": "The recipient replied STOP to this sender: Twilio refuses further messages until they reply START.",
    "21614": "'To' is not a mobile number (a landline or invalid): it cannot receive SMS.",
    "30001": "Queue overflow: too many messages queued at Twilio for this sender; slow down.",
    "30002": "The Twilio account is suspended.",
    "30003": "Unreachable handset: the phone is off or out of coverage; a later retry may work.",
    "30004": "Blocked: the recipient or their carrier blocks messages from this sender.",
    "30005": "Unknown handset: the number does not exist or is no longer in service; clean the list.",
    "30006": "Landline or unreachable carrier: the number cannot receive SMS.",
    "30007": "Filtered by the carrier as spam or unregistered traffic: check content and sender registration.",
    "30008": "Unknown error from the carrier.",
    "30034": "Sent from a US number not registered for A2P 10DLC.",
    "63016": "WhatsApp via Twilio: free-form message outside the 24-hour window; send an approved template.",
}

WHATSAPP = {
    "470": "Re-engagement: more than 24 hours since the customer last wrote; only a template may be sent (older API's code for 131047).",
    "130429": "Rate limit: the phone number's messages per second were exceeded.",
    "131021": "The recipient is the sender's own number.",
    "131026": "Undeliverable: the number is not on WhatsApp, runs an old app, or has not accepted the terms.",
    "131031": "The WhatsApp Business account is locked.",
    "131047": "Re-engagement: more than 24 hours since the customer last wrote; send an approved template.",
    "131049": "Meta chose not to deliver this marketing message (per-user marketing limit); try later.",
    "131051": "Unsupported message type.",
    "131056": "Too many messages to the same number in a short time (pair rate limit).",
    "132000": "The template's parameters do not match its placeholders.",
    "132001": "The template does not exist in that language, or is not approved.",
}

FAMILIES = {"twilio": TWILIO, "sandbox": TWILIO, "whatsapp": WHATSAPP, "meta": WHATSAPP}


def table_for(provider: str) -> dict[str, str]:
    name = (provider or "").lower()
    for family, codes in FAMILIES.items():
        if family in name:
            return codes
    return {}


def explain(provider: str, code: str) -> str:
    """The explanation of `code` from `provider`, or "" when it is not a known code."""
    if not code:
        return ""
    return table_for(provider).get(code) or OURS.get(code, "")
