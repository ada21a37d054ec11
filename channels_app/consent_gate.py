"""The one place channels_app talks to the consent registry (consent.services): every send asks
`check` / `check_many` when it is queued, and the dispatcher asks again, in batch, when it hands
claimed messages over (`handover`); accepted sends and inbound messages are reported back;
inbound text goes through the keyword service first. No consent rule lives here.

The registry is imported directly: there is no fallback. A checkout where consent.services does
not import cannot queue or hand over anything (the import error stops the process at start)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q

from consent import services
from consent.addresses import address_hash, address_kind
from consent.models import ConsentRecord, Method, SentBy, Status, Suppression
from cpaas.models import Workspace
from cpaas.tenancy import Actor

from .models import Message

log = logging.getLogger(__name__)
S = Message.Status


@dataclass(frozen=True)
class Verdict:
    outcome: str  # "allow" | "deny" | "defer"
    rule: str = ""
    reason: str = ""
    defer_until: dt.datetime | None = None


def _verdict(decision) -> Verdict:
    return Verdict(
        outcome=str(decision.outcome),
        rule=str(decision.rule or ""),
        reason=str(decision.reason or ""),
        defer_until=decision.defer_until,
    )


def check(
    contact,
    kind: str,
    purpose: str,
    at: dt.datetime,
    *,
    is_template: bool = False,
    sent_by: str = SentBy.AUTOMATION,
) -> Verdict:
    return _verdict(services.check(contact, kind, purpose, at, is_template=is_template, sent_by=sent_by))


def check_many(
    contacts,
    kind: str,
    purpose: str,
    at: dt.datetime,
    *,
    is_template: bool = False,
    sent_by: str = SentBy.AUTOMATION,
) -> dict:
    decisions = services.check_many(
        list(contacts), kind, purpose, at, is_template=is_template, sent_by=sent_by
    )
    return {pk: _verdict(d) for pk, d in decisions.items()}


# --- hand-over ------------------------------------------------------------------------------------

# A deferral that would not move the message forward (a decision without a time, or one in the
# past) is retried this much later, never at once.
MIN_DEFER = dt.timedelta(seconds=60)


def handover(messages: list[Message], *, now: dt.datetime, token: str) -> list[Message]:
    """Decide again for messages the dispatcher claimed (status `sending`, claim `token`), just
    before they go: what leaves is what consent allows at this moment. Returns the messages that
    may go, in order. The others are settled here, guarded by the claim: blocked (with the
    decision's rule and reason; a fallback chain moves on) or deferred to the decision's time.
    Allowed sends of a purpose with a frequency cap hold a reservation in the registry's ledger
    until `sends_released` gives it back. The contacts' facts come joined to the claimed messages (`with_contact_facts`); the registry
    decides in a few queries per (kind, purpose, template, sender kind) group."""
    if not messages:
        return []
    contacts = _facts(messages)
    SendRequest = services.SendRequest  # thousands a second: positional, names bound once
    sends = [
        SendRequest(
            m.reference, contacts[m.contact_id], m.kind, m.purpose, "template" in m.content, m.sent_by
        )
        for m in messages
    ]
    decisions = services.decide_sends(sends, now)
    allowed, refused = [], []
    for m, send in zip(messages, sends, strict=True):
        (allowed if decisions[send.ref].outcome == "allow" else refused).append(m)
    if refused:
        _refuse(refused, {m.reference: _verdict(decisions[m.reference]) for m in refused}, now, token)
    return allowed


def with_contact_facts(queryset):
    """The dispatcher's query of claimed messages, with what a consent decision reads about each
    contact joined in: the decision at hand-over then costs no query for contacts."""
    return queryset.annotate(**{f"consent_{f}": F(f"contact__{f}") for f in services.FACT_FIELDS})


_FACT_ATTRS = tuple(f"consent_{f}" for f in services.FACT_FIELDS)


def _facts(messages: list[Message]) -> dict:
    if not hasattr(messages[0], "consent_timezone"):  # not read through with_contact_facts
        return services.contact_facts(m.contact_id for m in messages)
    workspaces = {w.pk: w for w in Workspace.objects.filter(pk__in={m.workspace_id for m in messages})}
    facts = {}
    ContactFacts = services.ContactFacts
    for m in messages:
        contact_id = m.contact_id
        if contact_id not in facts:
            d = m.__dict__  # the annotations are plain attributes: read them without descriptors
            facts[contact_id] = ContactFacts(
                contact_id,
                m.workspace_id,
                *[d[a] for a in _FACT_ATTRS],
                workspace=workspaces[m.workspace_id],
            )
    return facts


@transaction.atomic
def _refuse(messages: list[Message], verdicts: dict[str, Verdict], now: dt.datetime, token: str) -> None:
    """Settle what consent no longer allows, through the message state machine, guarded by the
    claim (a receipt or a recovery that got there first wins)."""
    from .services import transitions
    from .services.fallback import after_blocked

    ours = Q(status=S.SENDING, claim_token=token)
    blocked = []
    for m in messages:
        v = verdicts[m.reference]
        consent = {
            "consent_outcome": v.outcome,
            "consent_rule": v.rule[:60],
            "consent_reason": v.reason[:500],
        }
        if v.outcome == "defer":
            until = v.defer_until if v.defer_until and v.defer_until > now else now + MIN_DEFER
            transitions.transition(
                ids=[m.pk],
                to=S.DEFERRED,
                at=now,
                source="consent",
                guard=ours,
                event_code=v.rule,
                detail=f"at hand-over, until {until.isoformat()}: {v.reason}",
                due_at=until,
                **consent,
            )
        elif transitions.transition(
            ids=[m.pk],
            to=S.BLOCKED,
            at=now,
            source="consent",
            guard=ours,
            error=("consent", v.reason),
            event_code=v.rule,
            detail=f"at hand-over: {v.reason}",
            **consent,
        ):
            m.status = S.BLOCKED
            blocked.append(m)
    after_blocked([Message.objects.get(pk=m.pk) for m in blocked if m.fallback_chain], now=now)
    log.info("consent at hand-over: %s refused (%s blocked)", len(messages), len(blocked))


def sends_released(messages) -> None:
    """Messages that did not go after all (failed, put back for a retry): their cap places are
    given back."""
    by_workspace = defaultdict(list)
    for m in messages:
        by_workspace[m.workspace_id].append(m.reference)
    for workspace_id, refs in by_workspace.items():
        services.sends_released(workspace_id=workspace_id, message_refs=refs)


def sends_recorded(messages, at: dt.datetime) -> None:
    """Report messages a provider accepted (frequency caps count them). Only (purpose, kind)
    pairs that some cap of the workspace counts are reported; a message that reserved its place
    at hand-over is already in the ledger (the same ref counts once)."""
    if not messages:
        return
    from consent.selectors import policy_for
    from cpaas.models import Workspace

    groups = defaultdict(list)
    for m in messages:
        groups[m.workspace_id].append(m)
    for workspace_id, group in groups.items():
        policy = policy_for(workspace=Workspace(pk=workspace_id))
        sends = [
            {
                "contact_id": m.contact_id,
                "channel_kind": m.kind,
                "purpose": m.purpose,
                "at": at,
                "message_ref": m.reference,
            }
            for m in group
            if policy.caps_for(m.purpose, m.kind)
        ]
        if sends:
            services.sends_recorded(workspace_id=workspace_id, sends=sends)


def window_closed(messages, now: dt.datetime) -> None:
    """Messages a provider refused as outside the conversation window (WhatsApp 131047): consent
    closes it for their contacts until they write again, so the next free-form messages are
    blocked here instead of refused there."""
    groups = defaultdict(set)
    for m in messages:  # closed when the provider said so (its receipt's time), else now
        groups[(m.workspace_id, m.kind, m.failed_at or now)].add(m.contact_id)
    for (workspace_id, kind, at), contact_ids in groups.items():
        services.window_closed(
            workspace_id=workspace_id, contact_ids=sorted(contact_ids), channel_kind=kind, at=at
        )


def inbound_recorded(contact, kind: str, at: dt.datetime) -> None:
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
    *, contact, kind: str, text: str, at: dt.datetime, inbound_message_id: str, payload: str = ""
) -> KeywordOutcome:
    """`payload`: what a pressed WhatsApp/RCS button carries (a STOP button opts out too)."""
    if not text and not payload:
        return KeywordOutcome()
    result = services.inbound_keyword(
        contact=contact,
        channel_kind=kind,
        text=text,
        at=at,
        inbound_message_id=inbound_message_id,
        payload=payload,
    )
    return KeywordOutcome(
        action=result.action, keyword=result.keyword, reply=result.reply, duplicate=result.duplicate
    )


def message_words(message: Message, tz=None):
    """Why a message was not sent (blocked) or waits (deferred), in words
    (`consent.wording.DecisionWords`); None for a message that went on. A block that was not
    consent's (no channel, a provider refusal) keeps its own reason under "Not sent"."""
    from consent.wording import DecisionWords, decision_words

    if message.status == S.BLOCKED and message.consent_outcome != "deny":
        return DecisionWords("deny", "Not sent", "", message.error_code, message.error_reason)
    if message.status not in (S.BLOCKED, S.DEFERRED):
        return None
    if message.status == S.DEFERRED and not message.consent_rule:
        return None  # scheduled by its sender, not held back by consent
    return decision_words(
        "deny" if message.status == S.BLOCKED else "defer",
        message.consent_rule,
        message.consent_reason,
        purpose=message.purpose,
        channel_kind=message.kind,
        until=message.due_at,
        tz=tz,
    )


# --- what providers report about an address or a recipient -------------------------------------------


def address_suppress(*, workspace, kind: str, address: str, reason: str, note: str, at: dt.datetime) -> bool:
    """Put an address a provider reported (a hard bounce, a complaint) on the suppression list
    for this channel kind. Already there: nothing changes (receipts repeat). Returns True when
    it was added."""
    hashed = address_hash(address_kind(kind), address)
    if Suppression.objects.filter(
        workspace=workspace, address_hash=hashed, channel_kind__in=[kind, ""]
    ).exists():
        return False
    try:
        with transaction.atomic():
            services.suppression_add(
                workspace=workspace,
                actor=Actor.system("provider report"),
                channel_kind=kind,
                address=address,
                reason=reason,
                note=note,
                at=at,
            )
    except ValidationError as exc:  # a malformed address in the report: nothing to suppress
        log.warning("suppression of a reported address refused: %s", exc.messages)
        return False
    return True


def unsubscribe(
    *, contact, kind: str, purpose: str, at: dt.datetime, reason: str, evidence: dict, actor_label: str = ""
) -> bool:
    """An opt-out the recipient asked for (a one-click unsubscribe, a provider's unsubscribe
    event), recorded with its evidence. Already opted out (or suppressed) for that purpose:
    nothing new is written, so a repeated request is harmless. Returns True when recorded."""
    record = ConsentRecord.objects.filter(
        contact=contact, channel_kind=kind, purpose=purpose, sender_scope=""
    ).first()
    if record is not None and record.status in (Status.OPTED_OUT, Status.SUPPRESSED):
        return False
    services.consent_change(
        contact=contact,
        channel_kind=kind,
        purpose=purpose,
        status=Status.OPTED_OUT,
        actor=Actor.system(actor_label or "the recipient (unsubscribe)"),
        method=Method.WEB_FORM,
        reason=reason,
        at=at,
        evidence=evidence,
    )
    return True
