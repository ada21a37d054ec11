"""The one place channels_app talks to the consent registry (consent.services): every send asks
`check` / `check_many`; accepted sends and inbound messages are reported back; inbound text goes
through the keyword service first. No consent rule lives here.

If the registry is not installed (a checkout without consent.services), sends are allowed with
rule "consent_registry_missing", and the message says so."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    outcome: str  # "allow" | "deny" | "defer"
    rule: str = ""
    reason: str = ""
    defer_until: dt.datetime | None = None


MISSING = Verdict("allow", "consent_registry_missing", "The consent registry is not installed.")


def _services():
    try:
        from consent import services
    except ImportError:
        return None
    return services if hasattr(services, "check_many") else None


def _verdict(decision) -> Verdict:
    return Verdict(
        outcome=str(decision.outcome),
        rule=str(decision.rule or ""),
        reason=str(decision.reason or ""),
        defer_until=decision.defer_until,
    )


def check(
    contact, kind: str, purpose: str, at: dt.datetime, *, is_template: bool = False, automated: bool = True
) -> Verdict:
    services = _services()
    if services is None:
        return MISSING
    return _verdict(services.check(contact, kind, purpose, at, is_template=is_template, automated=automated))


def check_many(
    contacts, kind: str, purpose: str, at: dt.datetime, *, is_template: bool = False, automated: bool = True
) -> dict:
    contacts = list(contacts)
    services = _services()
    if services is None:
        return {c.pk: MISSING for c in contacts}
    decisions = services.check_many(contacts, kind, purpose, at, is_template=is_template, automated=automated)
    return {pk: _verdict(d) for pk, d in decisions.items()}


def sends_recorded(messages, at: dt.datetime) -> None:
    """Report messages a provider accepted (frequency caps count them). Only (purpose, kind)
    pairs that some cap of the workspace counts are reported: the registry's ledger is written
    one row at a time, which the dispatcher's batches cannot afford for every message."""
    services = _services()
    if services is None or not messages:
        return
    from consent.selectors import policy_for
    from contacts.models import Contact
    from cpaas.models import Workspace

    groups = defaultdict(list)
    for m in messages:
        groups[(m.workspace_id, m.purpose, m.kind)].append(m)
    policies = {}
    for (workspace_id, purpose, kind), group in groups.items():
        if workspace_id not in policies:
            policies[workspace_id] = policy_for(workspace=Workspace(pk=workspace_id))
        if not policies[workspace_id].caps_for(purpose, kind):
            continue
        for m in group:
            services.send_recorded(
                contact=Contact(pk=m.contact_id, workspace_id=workspace_id),
                channel_kind=kind,
                purpose=purpose,
                at=at,
                message_ref=m.reference,
            )


def inbound_recorded(contact, kind: str, at: dt.datetime) -> None:
    services = _services()
    if services is not None:
        services.inbound_recorded(contact=contact, channel_kind=kind, at=at)


@dataclass(frozen=True)
class KeywordOutcome:
    action: str = "none"  # "stop" | "start" | "help" | "none"
    keyword: str = ""
    reply: str = ""
    duplicate: bool = False

    @property
    def handled(self) -> bool:
        return self.action != "none"


def keyword_handle(
    *, contact, kind: str, text: str, at: dt.datetime, inbound_message_id: str
) -> KeywordOutcome:
    services = _services()
    if services is None or not text:
        return KeywordOutcome()
    result = services.inbound_keyword(
        contact=contact, channel_kind=kind, text=text, at=at, inbound_message_id=inbound_message_id
    )
    return KeywordOutcome(
        action=result.action, keyword=result.keyword, reply=result.reply, duplicate=result.duplicate
    )
