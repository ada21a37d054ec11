"""Reads for contacts. Every selector takes the workspace first."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from cpaas.models import Workspace

from .models import Contact, Event, Segment
from .segments import segment_filter
from .validation import normalize_phone


def contact_list(*, workspace: Workspace, filters: dict | None = None) -> QuerySet[Contact]:
    """Contacts of the workspace narrowed by `filters`: q (name, phone, email, external id),
    tag, segment (id), language, channel (preferred), vulnerable ("yes"/"no")."""
    filters = filters or {}
    qs = Contact.objects.filter(workspace=workspace)
    q = (filters.get("q") or "").strip()
    if q:
        phone = _as_phone(q, workspace.default_country)
        if phone:
            qs = qs.filter(phone=phone)
        else:
            for word in q.split():
                digits = "".join(ch for ch in word if ch.isdigit())
                match = (
                    Q(first_name__icontains=word)
                    | Q(last_name__icontains=word)
                    | Q(email__icontains=word)
                    | Q(external_id__icontains=word)
                )
                if len(digits) >= 3:
                    match |= Q(phone__contains=digits)
                qs = qs.filter(match)
    if filters.get("tag"):
        qs = qs.filter(tags__workspace=workspace, tags__name=filters["tag"])
    if filters.get("language"):
        qs = qs.filter(language=filters["language"])
    if filters.get("channel"):
        qs = qs.filter(preferred_channel=filters["channel"])
    if filters.get("vulnerable") in ("yes", "no"):
        qs = qs.filter(is_vulnerable=filters["vulnerable"] == "yes")
    if filters.get("segment"):
        segment = Segment.objects.filter(workspace=workspace, pk=filters["segment"]).first()
        if segment is not None:
            qs = segment_filter(qs, workspace=workspace, definition=segment.definition)
    return qs.distinct() if filters.get("tag") else qs


def _as_phone(q: str, country: str) -> str | None:
    """The query as an E.164 number when it is one written in full ("07911 123456")."""
    if sum(ch.isdigit() for ch in q) < 7 or any(ch.isalpha() for ch in q):
        return None
    try:
        return normalize_phone(q, country)
    except ValueError:
        return None


def contact_get(*, workspace: Workspace, pk) -> Contact:
    """The contact or Contact.DoesNotExist (a 404), never another workspace's."""
    return Contact.objects.get(workspace=workspace, pk=pk)


def contact_events(*, workspace: Workspace, contact: Contact) -> QuerySet[Event]:
    return Event.objects.filter(workspace=workspace, contact=contact).order_by("-occurred_at", "-id")


def segment_count(*, workspace: Workspace, definition: dict) -> int:
    return segment_filter(
        Contact.objects.filter(workspace=workspace), workspace=workspace, definition=definition
    ).count()
