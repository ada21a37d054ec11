"""The one decision every send goes through: `check()` for one contact, `check_many()` for
thousands in a bounded number of queries. Rules apply in this order, the first that does not
allow decides: address, suppression, consent or lawful basis, WhatsApp window, quiet hours
(defer), frequency cap (defer), vulnerability. `decide_sends()` is the dispatcher's form: one
decision per message at hand-over, reserving frequency-cap places."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import BooleanField, F, Func
from django.utils import timezone
from phonenumbers import timezone as phone_timezone

from contacts.models import ChannelKind, Contact
from cpaas.models import Workspace

from .. import selectors
from ..addresses import contact_hash
from ..defaults import CONVERSATION_WINDOW, WHATSAPP_WINDOW
from ..models import ConsentRecord, InboundRecord, SendRecord, SentBy, Status, Suppression

UTC = dt.UTC
ALLOW, DENY, DEFER = "allow", "deny", "defer"


@dataclass(slots=True)
class ContactFacts:
    """What a decision reads about a contact, for callers that decide for thousands a second
    (the dispatcher): the same attributes as a Contact, without building model instances."""

    pk: int
    workspace_id: int
    phone: str | None
    email: str
    addresses: dict
    timezone: str
    is_vulnerable: bool
    language: str
    workspace: Workspace | None = None

    @property
    def id(self) -> int:
        return self.pk


# The Contact fields a decision reads (ContactFacts' fields after pk and workspace_id, in order).
FACT_FIELDS = ("phone", "email", "addresses", "timezone", "is_vulnerable", "language")


def contact_facts(contact_ids) -> dict[int, ContactFacts]:
    """{id: ContactFacts} for these contacts, in two queries whatever their number."""
    ids = sorted(set(contact_ids))
    if not ids:
        return {}
    rows = list(Contact.objects.filter(InValues("id", ids)).values_list("id", "workspace_id", *FACT_FIELDS))
    workspaces = {w.pk: w for w in Workspace.objects.filter(pk__in={r[1] for r in rows})}
    return {r[0]: ContactFacts(*r, workspace=workspaces[r[1]]) for r in rows}


@dataclass(frozen=True)
class Decision:
    """What check() says about one send. The caller stores `as_json()` with its message."""

    outcome: str  # "allow" | "deny" | "defer"
    rule: str  # e.g. "suppression", "consent.missing", "whatsapp.window", "quiet_hours"
    reason: str  # for people
    defer_until: dt.datetime | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome == ALLOW

    def as_json(self) -> dict:
        return {
            "outcome": self.outcome,
            "rule": self.rule,
            "reason": self.reason,
            "defer_until": self.defer_until.isoformat() if self.defer_until else None,
        }

    @classmethod
    def from_json(cls, data: dict) -> Decision:
        until = data.get("defer_until")
        return cls(
            data["outcome"], data["rule"], data["reason"], dt.datetime.fromisoformat(until) if until else None
        )


# --- quiet hours -----------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _cached_zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except Exception:  # unknown, a directory ("America"), a path, a NUL byte...: all just "no zone"
        return None


def _zone(name) -> zoneinfo.ZoneInfo | None:
    """The zone a stored value names, or None for any value that names none (never raises: one
    bad value must not fail a batch decision)."""
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        return None
    return _cached_zone(name.strip())


def in_quiet(local: dt.time, start: dt.time, end: dt.time) -> bool:
    """Quiet from `start` (inclusive) to `end` (exclusive), across midnight when start > end."""
    if start < end:
        return start <= local < end
    return local >= start or local < end


def wall_to_instant(day: dt.date, wall: dt.time, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first instant at which the clocks of `tz` show `wall` on `day` (UTC). In an
    ambiguous hour (clocks go back) that is the first pass; in a gap (clocks go forward, the
    wall time never shows) it is the end of the gap."""
    return _wall_instants(day, wall, tz)[0]


def _wall_instants(day: dt.date, wall: dt.time, tz: zoneinfo.ZoneInfo) -> list[dt.datetime]:
    """Every instant (UTC, in order) at which the clocks of `tz` show `wall` on `day`: one, two
    in a repeated hour (both passes), or the end of the gap when the clocks skip it."""
    naive = dt.datetime.combine(day, wall)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    shows = [t for t in sorted({first, second}) if t.astimezone(tz).replace(tzinfo=None) == naive]
    if shows:
        return shows
    # In a gap: fold=0 lands after the transition, fold=1 before it; find the transition.
    lo, hi = min(first, second), max(first, second)
    while (hi - lo) > dt.timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return [hi.replace(microsecond=0)]


def quiet_until(at: dt.datetime, tz: zoneinfo.ZoneInfo, start: dt.time, end: dt.time) -> dt.datetime | None:
    """None when `at` is outside the quiet hours in `tz`, else the next allowed instant (UTC):
    the first instant after `at` at which the clocks show the end of the quiet hours. Always in
    the future, also in a repeated hour (the second pass of 01:15 ends at the second pass of
    01:30, not the first, which is already past)."""
    local = at.astimezone(tz)
    wall = local.time().replace(tzinfo=None)
    if not in_quiet(wall, start, end):
        return None
    day = local.date()
    for offset in range(3):
        for instant in _wall_instants(day + dt.timedelta(days=offset), end, tz):
            if instant > at:
                return instant
    return at + dt.timedelta(minutes=1)  # unreachable for real zones; never the past


def quiet_until_zones(at: dt.datetime, zones, start: dt.time, end: dt.time) -> dt.datetime | None:
    """quiet_until for a contact who may be in any of `zones`: allowed only when outside the
    quiet hours in every one of them."""
    t = at
    for _ in range(4 * len(zones) + 2):
        later = [u for z in zones if (u := quiet_until(t, z, start, end)) is not None]
        if not later:
            return t if t > at else None
        t = max(later)
    return t


# A number's possible zones are used when their clocks differ by at most this much (a country's
# mainland: US 3 h, Australia 3 h); beyond it (toll-free and non-geographic numbers span the
# globe) the number says nothing useful and the workspace's zone applies.
PHONE_ZONES_MAX_SPREAD = dt.timedelta(hours=3)


@lru_cache(maxsize=65536)
def _phone_zone_names(phone: str) -> tuple[str, ...]:
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return ()
    return tuple(n for n in phone_timezone.time_zones_for_number(parsed) if _zone(n) is not None)


def contact_zones(contact, workspace: Workspace, at: dt.datetime) -> list[zoneinfo.ZoneInfo]:
    """The time zones whose clock quiet hours follow for this contact (the TCPA and Regulation F
    go by the called person's local time): the contact's own zone; without a usable one, the
    zones the phone number may be in (phonenumbers' data: one zone, or several whose clocks are
    at most 3 h apart, and then quiet hours hold in each); then the workspace's zone; then UTC."""
    own = _zone(contact.timezone)
    if own is not None:
        return [own]
    phone = getattr(contact, "phone", None)
    if phone:
        zones = [_zone(n) for n in _phone_zone_names(str(phone))]
        if zones:
            by_offset = {}
            for z in zones:
                by_offset.setdefault(at.astimezone(z).utcoffset(), z)  # same clock: one is enough
            if max(by_offset) - min(by_offset) <= PHONE_ZONES_MAX_SPREAD:
                return list(by_offset.values())
    return [_zone(workspace.timezone) or UTC]


def contact_zone(contact, workspace: Workspace) -> zoneinfo.ZoneInfo:
    """The contact's (first) zone now: see contact_zones."""
    return contact_zones(contact, workspace, timezone.now())[0]


def _zone_names(zones) -> str:
    return ", ".join(getattr(z, "key", "UTC") for z in zones)


# --- batch helpers --------------------------------------------------------------------------------


class InValues(Func):
    """`field IN (values)` passed as one SQL parameter however many values: a JSON array read
    by json_each on SQLite (its limit is 999 parameters), `= ANY(array)` on PostgreSQL (a plan
    that stays fast even before the planner has statistics). Keeps check_many at a fixed
    number of queries for any number of contacts."""

    output_field = BooleanField()

    BIGINT = range(-(2**63), 2**63)

    def __init__(self, field: str, values, sql_type: str = "bigint"):
        super().__init__(F(field))
        values = list(values)
        if sql_type == "bigint":
            # a value no bigint column can hold matches no row (as Django's own integer lookups
            # treat it); sent as is, PostgreSQL refuses the whole query ("bigint out of range")
            values = [v for v in values if v in self.BIGINT]
        self.values, self.sql_type = values, sql_type

    def _lhs(self, compiler, connection):
        return compiler.compile(self.source_expressions[0])

    def as_sql(self, compiler, connection, **extra):
        lhs, params = self._lhs(compiler, connection)
        if not self.values:
            return "1 = 0", []
        return f"{lhs} IN ({', '.join(['%s'] * len(self.values))})", [*params, *self.values]

    def as_sqlite(self, compiler, connection, **extra):
        lhs, params = self._lhs(compiler, connection)
        return f"{lhs} IN (SELECT value FROM json_each(%s))", [*params, json.dumps(self.values)]

    def as_postgresql(self, compiler, connection, **extra):
        lhs, params = self._lhs(compiler, connection)
        return f"{lhs} = ANY(%s::{self.sql_type}[])", [*params, self.values]


def _fmt(when: dt.datetime, tz) -> str:
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _channel_label(kind: str) -> str:
    return ChannelKind(kind).label


# --- the decision -----------------------------------------------------------------------------------


def _validate(channel_kind: str, at: dt.datetime) -> None:
    if channel_kind not in ChannelKind.values:
        raise ValidationError(
            {
                "channel_kind": [
                    f"Unknown channel '{channel_kind}'. Use one of: {', '.join(ChannelKind.values)}."
                ]
            }
        )
    if not isinstance(at, dt.datetime) or timezone.is_naive(at):
        raise ValidationError({"at": ["Give an aware datetime (with a time zone)."]})


def _sent_by(sent_by: str | None, automated: bool | None) -> str:
    """`automated` is the older spelling of `sent_by` (True = automation, False = a person)."""
    if sent_by is None:
        sent_by = SentBy.AUTOMATION if automated in (None, True) else SentBy.PERSON
    if sent_by not in SentBy.values:
        raise ValidationError(
            {"sent_by": [f"Unknown sender kind '{sent_by}'. Use one of: {', '.join(SentBy.values)}."]}
        )
    return sent_by


def conversation_window() -> dt.timedelta:
    seconds = getattr(settings, "CONSENT_CONVERSATION_WINDOW_S", None)
    return CONVERSATION_WINDOW if seconds is None else dt.timedelta(seconds=float(seconds))


def check(
    contact: Contact,
    channel_kind: str,
    purpose: str,
    at: dt.datetime,
    *,
    is_template: bool = False,
    sender: str = "",
    sent_by: str | None = None,
    automated: bool | None = None,
) -> Decision:
    """May this message go to this contact now? See the module docstring for the rules."""
    return check_many(
        [contact],
        channel_kind,
        purpose,
        at,
        is_template=is_template,
        sender=sender,
        sent_by=sent_by,
        automated=automated,
    )[contact.pk]


def check_many(
    contacts,
    channel_kind: str,
    purpose: str,
    at: dt.datetime,
    *,
    is_template: bool = False,
    sender: str = "",
    sent_by: str | None = None,
    automated: bool | None = None,
) -> dict[int, Decision]:
    """check() for many contacts of one workspace: {contact id: Decision}. The number of queries
    does not depend on the number of contacts (about eight). Reserves nothing: a preview, or a
    decision at queue time; the dispatcher decides again with `decide_sends`."""
    _validate(channel_kind, at)
    contacts = list(contacts)
    if not contacts:
        return {}
    if len({c.workspace_id for c in contacts}) > 1:
        raise ValueError("check_many decides for the contacts of one workspace at a time.")
    workspace = contacts[0].workspace
    return _decide(
        [(c.pk, c) for c in contacts],
        workspace,
        selectors.policy_for(workspace=workspace),
        channel_kind,
        purpose,
        at,
        is_template=is_template,
        sender=sender,
        sent_by=_sent_by(sent_by, automated),
        reserve=False,
    )


@dataclass(slots=True)
class SendRequest:
    """One message about to be handed to a provider (`decide_sends`)."""

    ref: str  # the message's own reference: the key of its cap reservation
    contact: Contact
    channel_kind: str
    purpose: str
    is_template: bool = False
    sent_by: str = SentBy.AUTOMATION
    sender: str = ""


def decide_sends(sends: list[SendRequest], at: dt.datetime) -> dict[str, Decision]:
    """The decision at hand-over, one per message: {ref: Decision}, the same rules as check().
    An allowing decision for a purpose with a frequency cap **reserves** the send in the ledger
    (a SendRecord keyed by the message's ref), so sends decided at the same time, in this batch
    or by another dispatcher, cannot pass a cap together; `sends_released` gives the place back
    when the send does not happen. The contacts of capped sends are locked (primary-key order)
    while their caps are counted and reserved. Queries: a handful per group of (workspace,
    channel, purpose, template, sender kind), whatever the number of messages."""
    _validate_many(sends, at)
    if not sends:
        return {}
    policies: dict[int, selectors.Policy] = {}
    workspaces: dict[int, Workspace] = {}
    groups: dict[tuple, list[SendRequest]] = defaultdict(list)
    for send in sends:
        workspace_id = send.contact.workspace_id
        if workspace_id not in policies:
            workspaces[workspace_id] = send.contact.workspace
            policies[workspace_id] = selectors.policy_for(workspace=workspaces[workspace_id])
        key = (workspace_id, send.channel_kind, send.purpose, send.is_template, send.sent_by, send.sender)
        groups[key].append(send)
    capped = sorted(
        {
            s.contact.pk
            for (workspace_id, kind, purpose, *_), group in groups.items()
            if policies[workspace_id].caps_for(purpose, kind)
            for s in group
        }
    )
    with transaction.atomic() if capped else contextlib.nullcontext():
        if capped:
            # Serialise cap decisions per contact across dispatchers (SQLite's write lock does
            # already): counted and reserved under the same lock.
            list(
                Contact.objects.select_for_update()
                .filter(InValues("id", capped))
                .order_by("pk")
                .values_list("pk")
            )
        return _decide_groups(groups, policies, workspaces, at)


def _decide_groups(groups, policies, workspaces, at) -> dict[str, Decision]:
    decisions: dict[str, Decision] = {}
    for (workspace_id, kind, purpose, is_template, sent_by, sender), group in groups.items():
        if policies[workspace_id].purpose(purpose) is None:
            # queued under a purpose the workspace has since deleted: nothing may say yes to it
            for s in group:
                decisions[s.ref] = Decision(
                    DENY, "purpose.unknown", f"The purpose '{purpose}' no longer exists in this workspace."
                )
            continue
        decisions.update(
            _decide(
                [(s.ref, s.contact) for s in group],
                workspaces[workspace_id],
                policies[workspace_id],
                kind,
                purpose,
                at,
                is_template=is_template,
                sender=sender,
                sent_by=sent_by,
                reserve=True,
            )
        )
    return decisions


def _validate_many(sends: list[SendRequest], at: dt.datetime) -> None:
    if not isinstance(at, dt.datetime) or timezone.is_naive(at):
        raise ValidationError({"at": ["Give an aware datetime (with a time zone)."]})
    for kind in {s.channel_kind for s in sends}:
        _validate(kind, at)
    for sent_by in {s.sent_by for s in sends}:
        _sent_by(sent_by, None)


def _decide(
    items: list[tuple],
    workspace: Workspace,
    policy,
    channel_kind: str,
    purpose: str,
    at: dt.datetime,
    *,
    is_template: bool,
    sender: str,
    sent_by: str,
    reserve: bool,
) -> dict:
    """The rules for (key, contact) items of one workspace, channel and purpose: {key: Decision}.
    Rules 0-5 are per contact; caps and vulnerability per item, in order, so that with `reserve`
    the second message to a contact in one batch counts the first one's reservation."""
    spec = policy.purpose(purpose)
    if spec is None:
        raise ValidationError(
            {"purpose": [f"Unknown purpose '{purpose}'. Use one of: {', '.join(policy.purposes)}."]}
        )
    contacts = list({c.pk: c for _, c in items}.values())
    channel = _channel_label(channel_kind)
    decisions: dict[int, Decision] = {}
    open_: dict[int, Contact] = {}

    # 1. an address, then 2. the suppression list (hashes of addresses, any contact)
    hashes: dict[int, str] = {}
    for contact in contacts:
        h = contact_hash(contact, channel_kind)
        if h is None:
            decisions[contact.pk] = Decision(
                DENY, "address.missing", f"The contact has no {channel} address."
            )
        else:
            hashes[contact.pk] = h
            open_[contact.pk] = contact
    if hashes:
        suppressed = {
            s.address_hash: s
            for s in Suppression.objects.filter(
                workspace=workspace, channel_kind__in=[channel_kind, ""]
            ).filter(InValues("address_hash", sorted(set(hashes.values())), "text"))
        }
        for pk, h in hashes.items():
            entry = suppressed.get(h)
            if entry is not None:
                where = f"for {channel}" if entry.channel_kind else "for every channel"
                decisions[pk] = Decision(
                    DENY,
                    "suppression",
                    f"The address is on the suppression list {where} ({entry.get_reason_display()}, "
                    f"since {entry.created_at:%Y-%m-%d}).",
                )
                open_.pop(pk, None)

    # 3. consent or lawful basis
    opted_in: set[int] = set()
    if open_:
        scopes = ["", sender] if sender else [""]
        records: dict[int, dict[str, ConsentRecord]] = defaultdict(dict)
        for record in ConsentRecord.objects.filter(
            workspace=workspace, channel_kind=channel_kind, purpose=purpose, sender_scope__in=scopes
        ).filter(InValues("contact_id", sorted(open_))):
            records[record.contact_id][record.sender_scope] = record
        for pk in list(open_):
            mine = records.get(pk, {})
            general, scoped = mine.get(""), mine.get(sender) if sender else None
            record = (
                general if general is not None and general.status == Status.SUPPRESSED else scoped or general
            )
            decision = _consent_decision(record, spec, channel, at)
            if decision is not None:
                decisions[pk] = decision
                open_.pop(pk)
            elif record is not None and record.is_active_opt_in(at):
                opted_in.add(pk)

    # 4. the WhatsApp customer service window (free-form messages only)
    if open_ and channel_kind == ChannelKind.WHATSAPP and not is_template:
        last, closed = {}, {}
        for pk, when, closed_at in (
            InboundRecord.objects.filter(workspace=workspace, channel_kind=channel_kind)
            .filter(InValues("contact_id", sorted(open_)))
            .values_list("contact_id", "last_inbound_at", "window_closed_at")
        ):
            last[pk], closed[pk] = when, closed_at
        for pk in list(open_):
            when = last.get(pk)
            shut = closed.get(pk) is not None and closed[pk] >= when and at >= closed[pk]  # WhatsApp said so
            if when is None or at >= when + WHATSAPP_WINDOW or at < when or shut:
                since = f"last message {_fmt(when, UTC)}" if when else "no message from the contact yet"
                if shut and when and at < when + WHATSAPP_WINDOW:
                    since += f"; WhatsApp said it was closed at {_fmt(closed[pk], UTC)}"
                decisions[pk] = Decision(
                    DENY,
                    "whatsapp.window",
                    "Free-form WhatsApp messages are allowed only within 24 hours of the contact's last "
                    f"message ({since}); send an approved template instead.",
                )
                open_.pop(pk)

    # 5. quiet hours in the contact's time zone (defer). A person answering a conversation the
    # customer started moments ago (on any channel) may do so inside them; automation never.
    window = policy.quiet_window(spec)
    zones: dict[int, list[zoneinfo.ZoneInfo]] = {}
    if open_ and window:
        talking: set[int] = set()
        if sent_by == SentBy.PERSON:
            recent = at - conversation_window()
            talking = set(
                InboundRecord.objects.filter(
                    workspace=workspace, last_inbound_at__gt=recent, last_inbound_at__lte=at
                )
                .filter(InValues("contact_id", sorted(open_)))
                .values_list("contact_id", flat=True)
            )
        for pk in list(open_):
            tzs = zones[pk] = contact_zones(open_[pk], workspace, at)
            until = quiet_until_zones(at, tzs, *window)
            if until is not None and pk not in talking:
                decisions[pk] = Decision(
                    DEFER,
                    "quiet_hours",
                    f"Quiet hours for {spec.label.lower()} ({window[0]:%H:%M}-{window[1]:%H:%M} in "
                    f"{_zone_names(tzs)}); the next allowed time is {_fmt(until, tzs[0])}.",
                    until,
                )
                open_.pop(pk)

    # 6. frequency caps, counted from the send ledger (accepted sends and reservations); a
    # message's own earlier reservation (a retry) does not count against it
    caps = policy.caps_for(purpose, channel_kind) if open_ else []
    own = {key for key, _ in items} if reserve else set()
    counted: list[dict[int, list[dt.datetime]]] = []
    for cap in caps:
        sends = SendRecord.objects.filter(workspace=workspace, purpose=purpose, sent_at__gt=at - cap.period)
        if not reserve:
            sends = sends.filter(sent_at__lte=at)
        # At hand-over a place another dispatcher reserved a moment "later" (its clock was read
        # after ours) is in the window too: counting it is what keeps the cap under concurrency.
        sends = sends.filter(InValues("contact_id", sorted(open_)))
        if cap.channel_kind:
            sends = sends.filter(channel_kind=cap.channel_kind)
        times: dict[int, list[dt.datetime]] = defaultdict(list)
        for contact_id, sent_at, ref in sends.values_list("contact_id", "sent_at", "message_ref"):
            if ref not in own:
                times[contact_id].append(sent_at)
        for sent in times.values():
            sent.sort()
        counted.append(times)

    out: dict = {}
    reservations: list[SendRecord] = []
    allow_opted_in = Decision(ALLOW, "consent.opted_in", f"Opted in to {spec.label.lower()} on {channel}.")
    allow_basis = Decision(
        ALLOW,
        f"basis.{spec.default_basis}",
        f"{spec.label} is allowed on its lawful basis ({spec.default_basis.replace('_', ' ')}) "
        "unless the contact opts out.",
    )
    for key, contact in items:
        pk = contact.pk
        if pk not in open_:
            out[key] = decisions[pk]
            continue
        capped = None
        for cap, times in zip(caps, counted, strict=True):
            sent = times[pk]
            if len(sent) >= cap.limit:
                capped = _cap_decision(cap, sent, spec, workspace, contact, window, zones)
                break
        if capped is not None:
            out[key] = capped
            continue
        # 7. vulnerable customers: no automated collections or marketing (a person may reach them)
        if sent_by == SentBy.AUTOMATION and spec.vulnerable_blocked and contact.is_vulnerable:
            out[key] = Decision(
                DENY,
                "vulnerability",
                f"The contact is flagged vulnerable: automated {spec.label.lower()} messages are not "
                "sent; an agent may contact them.",
            )
            continue
        out[key] = allow_opted_in if pk in opted_in else allow_basis
        if reserve and caps:
            for times in counted:
                times[pk].append(at)
                times[pk].sort()
            reservations.append(
                SendRecord(
                    workspace=workspace,
                    contact_id=pk,
                    channel_kind=channel_kind,
                    purpose=purpose,
                    sent_at=at,
                    message_ref=key,
                )
            )
    if reservations:
        SendRecord.objects.bulk_create(reservations, ignore_conflicts=True)
    return out


def _cap_decision(cap, sent, spec, workspace, contact, window, zones) -> Decision:
    """Deferred until the oldest counted send leaves the window, then past any quiet hours."""
    until = sent[len(sent) - cap.limit] + cap.period
    tzs = zones.get(contact.pk) or contact_zones(contact, workspace, until)
    tz = tzs[0]
    if window:
        until = quiet_until_zones(until, tzs, *window) or until
    scope = f"on {_channel_label(cap.channel_kind)}" if cap.channel_kind else "on all channels"
    return Decision(
        DEFER,
        "frequency_cap",
        f"{len(sent)} {spec.label.lower()} message(s) {scope} in the last {_period(cap.period_hours)}"
        f" (the cap is {cap.limit}); the next allowed time is {_fmt(until, tz)}.",
        until,
    )


def _period(hours: int) -> str:
    return f"{hours // 24} days" if hours % 24 == 0 else f"{hours} hours"


def _consent_decision(record: ConsentRecord | None, spec, channel: str, at: dt.datetime) -> Decision | None:
    """Deny by the consent record, or None (consent or the lawful basis allows)."""
    what = f"{spec.label.lower()} on {channel}"
    if record is None:
        if spec.needs_opt_in:
            return Decision(
                DENY,
                "consent.missing",
                f"No opt-in to {what}: {spec.label.lower()} needs explicit consent per channel.",
            )
        return None
    since = f"{record.revoked_at:%Y-%m-%d}" if record.revoked_at else f"{record.updated_at:%Y-%m-%d}"
    if record.status == Status.SUPPRESSED:
        return Decision(
            DENY, "consent.suppressed", f"The contact stopped all messages on {channel} ({since})."
        )
    if record.status == Status.OPTED_OUT:
        return Decision(DENY, "consent.opted_out", f"Opted out of {what} ({since}).")
    if spec.needs_opt_in:
        if record.status == Status.PENDING:
            return Decision(
                DENY, "consent.pending", f"Double opt-in to {what} is not confirmed yet (asked {since})."
            )
        if record.expires_at and at >= record.expires_at:
            return Decision(
                DENY, "consent.expired", f"Consent to {what} expired on {record.expires_at:%Y-%m-%d}."
            )
    return None
