"""Forms of the consent pages. They parse input; the services validate the rules."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django import forms
from django.utils import timezone

from contacts.models import ChannelKind
from cpaas.gdpr import CONFIRMATION_WORD

from .models import KeywordAction, LawfulBasis, Method, Purpose, Status, Suppression

CHANGE_STATUSES = [(s.value, s.label) for s in (Status.OPTED_IN, Status.PENDING, Status.OPTED_OUT)]
TIME_INPUT = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
LOCAL_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _in_zone(value: dt.datetime | None, zone_name: str) -> dt.datetime | None:
    """A datetime-local value means the workspace's wall time."""
    if value is None:
        return None
    if timezone.is_naive(value):
        return value.replace(tzinfo=zoneinfo.ZoneInfo(zone_name))
    return value


def purpose_choices(purposes) -> list[tuple[str, str]]:
    return [(p.key, p.label) for p in purposes.values()]


class ChangeForm(forms.Form):
    channel_kind = forms.ChoiceField(label="Channel", choices=ChannelKind.choices)
    purpose = forms.ChoiceField(choices=())
    status = forms.ChoiceField(label="New status", choices=CHANGE_STATUSES)
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why, and the reference of the request (recorded with the change, shown in the history).",
    )
    method = forms.ChoiceField(
        label="How the person told us",
        choices=[
            (m.value, m.label) for m in Method if m not in (Method.KEYWORD, Method.IMPORT, Method.SYSTEM)
        ],
        initial=Method.AGENT_VERBAL,
    )
    lawful_basis = forms.ChoiceField(
        choices=[("", "The purpose's default")] + LawfulBasis.choices, required=False
    )
    occurred_at = forms.DateTimeField(
        label="When",
        required=False,
        widget=LOCAL_INPUT,
        help_text="Empty: now. In the workspace's time zone.",
    )
    expires_at = forms.DateTimeField(label="Consent expires", required=False, widget=LOCAL_INPUT)
    notice_text = forms.CharField(
        label="Notice text", required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="For an opt-in: the words the person agreed to.",
    )  # fmt: skip
    notice_version = forms.CharField(max_length=60, required=False)
    url = forms.CharField(label="Form URL", max_length=500, required=False)
    recording_id = forms.CharField(label="Call recording id", max_length=120, required=False)
    sender_scope = forms.CharField(
        max_length=64, required=False, help_text="Empty: every sender of the channel. Else one sender id."
    )
    jurisdiction = forms.CharField(
        max_length=12, required=False, help_text="e.g. GB, US-CA. Empty: the workspace's."
    )

    def __init__(self, *args, purposes, zone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zone
        self.fields["purpose"].choices = purpose_choices(purposes)

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "channel_kind": d["channel_kind"],
            "purpose": d["purpose"],
            "status": d["status"],
            "method": d["method"],
            "reason": d["reason"],
            "lawful_basis": d["lawful_basis"],
            "sender_scope": d["sender_scope"],
            "jurisdiction": d["jurisdiction"],
            "occurred_at": _in_zone(d["occurred_at"], self.zone),
            "expires_at": _in_zone(d["expires_at"], self.zone),
            "evidence": {f: d[f] for f in ("notice_text", "notice_version", "url", "recording_id") if d[f]},
        }


class CheckForm(forms.Form):
    channel_kind = forms.ChoiceField(label="Channel", choices=ChannelKind.choices)
    purpose = forms.ChoiceField(choices=())
    at = forms.DateTimeField(label="At", required=False, widget=LOCAL_INPUT, help_text="Empty: now.")
    is_template = forms.BooleanField(label="Approved template (WhatsApp)", required=False)
    automated = forms.BooleanField(label="Automated (journey)", required=False, initial=True)

    def __init__(self, *args, purposes, zone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zone
        self.fields["purpose"].choices = purpose_choices(purposes)

    def at_value(self) -> dt.datetime:
        return _in_zone(self.cleaned_data.get("at"), self.zone) or timezone.now()


class EraseForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="e.g. Art. 17 request, ticket 881.",
    )
    confirmation = forms.CharField(
        label=f"Type {CONFIRMATION_WORD} to confirm",
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class SuppressionForm(forms.Form):
    address = forms.CharField(max_length=200, help_text="Phone number, email address or channel id.")
    channel_kind = forms.ChoiceField(
        label="Channel", choices=[("", "Every channel")] + ChannelKind.choices, required=False
    )
    reason = forms.ChoiceField(
        choices=[(r.value, r.label) for r in Suppression.Reason if r not in (Suppression.Reason.ERASURE,)],
        initial=Suppression.Reason.ADMIN,
    )
    note = forms.CharField(max_length=500, help_text="Why, with a reference.")


class LiftForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


class PolicyForm(forms.Form):
    quiet_start = forms.TimeField(label="Quiet hours start", widget=TIME_INPUT)
    quiet_end = forms.TimeField(label="Quiet hours end", widget=TIME_INPUT)
    fuzzy_keywords = forms.BooleanField(
        label="Fuzzy keyword matching",
        required=False,
        help_text="Also treat any message holding a STOP word ('cancel my order') or 'STPO' as STOP "
        "(errs on the side of the opt-out; plain revocations such as 'stop please' always count).",
    )
    brand_name = forms.CharField(
        max_length=80,
        required=False,
        help_text="Named in the HELP reply ({brand}). Blank: the workspace's name.",
    )
    support_contact = forms.CharField(
        max_length=120,
        required=False,
        help_text="Phone, email or web address for help, named in the HELP reply ({support}); CTIA asks for one.",
    )


class PurposeForm(forms.Form):
    key = forms.SlugField(
        max_length=40, help_text="Used by journeys and the API, e.g. appointment_reminders."
    )
    label = forms.CharField(max_length=80)
    description = forms.CharField(max_length=300, required=False)
    rule = forms.ChoiceField(choices=Purpose.Rule.choices)
    default_basis = forms.ChoiceField(label="Lawful basis", choices=LawfulBasis.choices)
    quiet_hours = forms.ChoiceField(choices=Purpose.QuietHours.choices)
    quiet_start = forms.TimeField(required=False, widget=TIME_INPUT)
    quiet_end = forms.TimeField(required=False, widget=TIME_INPUT)
    vulnerable_blocked = forms.BooleanField(label="Not automated to vulnerable contacts", required=False)


class CapForm(forms.Form):
    purpose = forms.ChoiceField(choices=())
    channel_kind = forms.ChoiceField(
        label="Channel", choices=[("", "All channels together")] + ChannelKind.choices, required=False
    )
    limit = forms.IntegerField(min_value=1, max_value=1000, label="At most")
    period_hours = forms.IntegerField(min_value=1, max_value=24 * 366, label="Within (hours)", initial=168)

    def __init__(self, *args, purposes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purpose"].choices = purpose_choices(purposes)


class KeywordForm(forms.Form):
    word = forms.CharField(max_length=40)
    language = forms.CharField(max_length=8, required=False, help_text="e.g. fr. Empty: every language.")
    action = forms.ChoiceField(choices=KeywordAction.choices)


class ReplyForm(forms.Form):
    action = forms.ChoiceField(choices=KeywordAction.choices)
    language = forms.CharField(max_length=8, required=False, help_text="Empty: the fallback reply.")
    text = forms.CharField(
        max_length=480, widget=forms.Textarea(attrs={"rows": 2}), help_text="{workspace} is replaced."
    )


class KeywordTryForm(forms.Form):
    text = forms.CharField(label="Inbound message", max_length=480)
    language = forms.CharField(max_length=8, required=False)


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with columns phone/email/external_id, channel, purpose, status, and evidence columns."
    )
