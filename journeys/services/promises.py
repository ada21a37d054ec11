"""Promises to pay recorded by a person (an agent in the inbox, the API): one PromiseToPay row,
the same the `payment.promise` node writes, so the journey's payment nodes and reminders use it.

A contact waiting at a `payment.promise` node (asked and not yet answered, or waiting for the
payment of an earlier promise) gets the promise as its answer: a `promise` signal on the
enrolment, taken by the node in the engine's next round (it replaces an earlier promise, reminds
on the new day and waits for the payment). Without such an enrolment the promise waits for the
next `payment.promise` node the contact enters, which adopts it instead of asking."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contacts.models import ChannelKind, Contact
from cpaas.audit import audit_record
from cpaas.tenancy import Actor

from ..engine.graph import graphs_for
from ..models import Enrollment, PromiseToPay

MAX_DAYS_AHEAD = 365
MAX_AMOUNT = Decimal("9999999999.99")  # max_digits=12, decimal_places=2
CURRENCY = re.compile(r"^[A-Z]{3}$")
NODE_TYPE = "payment.promise"


def contact_today(contact: Contact, now: dt.datetime) -> dt.date:
    """The contact's calendar day (their zone, else the workspace's): a promise "for today" made
    at 23:30 in New York is not refused because it is already tomorrow in UTC."""
    from consent.services.decisions import contact_zone

    return now.astimezone(contact_zone(contact, contact.workspace)).date()


def promise_clean(*, contact: Contact, data: dict, now: dt.datetime) -> dict:
    """Validate a promise: amount (optional, positive, 2 decimals), currency (ISO 4217 letters,
    needed with an amount), due date (today .. a year ahead, the contact's calendar), reminder
    channel (a channel kind or blank). Raises ValidationError({field: [message]})."""
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    raw_amount = str(data.get("amount") or "").strip().replace(",", ".")
    clean["amount"] = None
    if raw_amount:
        try:
            amount = Decimal(raw_amount)
            if not amount.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            errors["amount"] = [f"'{raw_amount}' is not an amount (e.g. 120.50)."]
        else:
            if amount <= 0:
                errors["amount"] = ["The amount must be more than 0."]
            elif amount > MAX_AMOUNT:
                errors["amount"] = [f"At most {MAX_AMOUNT}."]
            elif amount != amount.quantize(Decimal("0.01")):
                errors["amount"] = ["At most 2 decimals."]
            else:
                clean["amount"] = amount.quantize(Decimal("0.01"))
    currency = str(data.get("currency") or "").strip().upper()
    if currency and not CURRENCY.match(currency):
        errors["currency"] = [f"'{currency}' is not a currency code (3 letters, e.g. GBP)."]
    elif clean["amount"] is not None and not currency:
        errors["currency"] = ["Say the currency of the amount (e.g. GBP)."]
    clean["currency"] = currency
    raw_date = data.get("due_date")
    today = contact_today(contact, now)
    if isinstance(raw_date, dt.date):
        due = raw_date
    else:
        try:
            due = dt.date.fromisoformat(str(raw_date or "").strip())
        except ValueError:
            due = None
            errors["due_date"] = [
                "Give the date the customer promised to pay (YYYY-MM-DD)."
                if not raw_date
                else f"'{raw_date}' is not a date (YYYY-MM-DD)."
            ]
    if due is not None:
        if due < today:
            errors["due_date"] = [f"The date is in the past (today is {today.isoformat()} for the customer)."]
        elif (due - today).days > MAX_DAYS_AHEAD:
            errors["due_date"] = [f"At most {MAX_DAYS_AHEAD} days ahead."]
        clean["due_date"] = due
    channel = str(data.get("reminder_channel") or "").strip().lower()
    if channel and channel not in ChannelKind.values:
        errors["reminder_channel"] = [f"'{channel}' is not a channel ({', '.join(ChannelKind.values)})."]
    clean["reminder_channel"] = channel
    clean["source_text"] = str(data.get("note") or "").strip()[:500]
    if errors:
        raise ValidationError(errors)
    return clean


def _waiting_enrollment(contact: Contact) -> Enrollment | None:
    """The contact's newest enrolment waiting at a payment.promise node, locked, with no other
    signal pending (a reply or the payment already on its way wins)."""
    rows = list(
        Enrollment.objects.filter(
            contact=contact, status=Enrollment.Status.WAITING, is_test=False
        ).values_list("pk", "version_id", "node")
    )
    graphs = graphs_for(v for _, v, _ in rows)
    ids = sorted(
        pk
        for pk, version, node in rows
        if (graphs.get(version) and (graphs[version].node(node) or {}).get("type") == NODE_TYPE)
    )
    if not ids:
        return None
    locked = [
        e
        for e in Enrollment.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        if e.status == Enrollment.Status.WAITING and not e.resume
    ]
    return max(locked, key=lambda e: (e.waiting_since or e.entered_at, e.pk), default=None)


@transaction.atomic
def promise_record(
    *, contact: Contact, actor: Actor, data: dict, now: dt.datetime | None = None
) -> PromiseToPay:
    """Record a promise to pay told to a person. `data`: amount, currency, due_date,
    reminder_channel, note. Returns the promise, linked to the enrolment it reached (if any)."""
    now = now or timezone.now()
    clean = promise_clean(contact=contact, data=data, now=now)
    enrollment = _waiting_enrollment(contact)
    promise = PromiseToPay.objects.create(
        workspace=contact.workspace,
        contact=contact,
        journey_id=enrollment.journey_id if enrollment else None,
        enrollment=enrollment,
        amount=clean["amount"],
        currency=clean["currency"],
        due_date=clean["due_date"],
        reminder_channel=clean["reminder_channel"],
        source_text=clean["source_text"],
        recorded_by=actor.user if actor.kind == "user" else None,
        created_at=now,
    )
    if enrollment is not None:
        signal = {
            "kind": "promise",
            "data": {"promise": promise_json(promise)},
            "token": enrollment.resume_token,
        }
        Enrollment.objects.filter(pk=enrollment.pk).update(resume=signal, due_at=now)
    audit_record(
        workspace=contact.workspace,
        actor=actor,
        action="journeys.promise.recorded",
        target=contact,
        data={
            "promise": promise.pk,
            "amount": str(promise.amount or ""),
            "currency": promise.currency,
            "due_date": promise.due_date.isoformat(),
            "reminder_channel": promise.reminder_channel,
            "enrollment": enrollment.pk if enrollment else None,
        },
        at=now,
    )
    return promise


def promise_json(promise: PromiseToPay) -> dict:
    """What a node keeps of a promise (state and `{{context.promise}}`)."""
    return {
        "id": promise.pk,
        "date": promise.due_date.isoformat(),
        "amount": str(promise.amount) if promise.amount else "",
        "currency": promise.currency,
        "channel": promise.reminder_channel,
    }
