"""The editor's test-run panel: a test contact found by search or made in place, the draft run
for them step by step in words, and a phone made for the panel (their messages, a blocked or
deferred send with its rule and reason, a reply box). The panel polls `editor_test_start`
(action "path") while it is open; the helpers it acts through are in `testrun.py`."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from channels_app.consent_gate import check as consent_check
from channels_app.consent_gate import message_words
from channels_app.models import Message
from channels_app.selectors import phone_messages
from consent.wording import decision_words
from contacts.models import Contact
from contacts.selectors import contact_list
from cpaas.jsoninput import JSONInputError, json_parse, json_problem
from cpaas.tenancy import Actor, workspace_required

from ..models import Journey
from ..services import JourneyInvalid
from . import testrun

RESULTS = 8
PHONE_MESSAGES = 30


def _journey(request, pk) -> Journey:
    return get_object_or_404(Journey, workspace=request.workspace, pk=pk)


def _found(request, q: str) -> list[Contact]:
    if not q:
        return list(Contact.objects.filter(workspace=request.workspace).order_by("-id")[:RESULTS])
    return list(contact_list(workspace=request.workspace, filters={"q": q})[:RESULTS])


@workspace_required("journeys.publish")
@require_GET
def editor_test_contacts(request, pk):
    """The picker's results for `q` (name, phone in any format, email)."""
    journey = _journey(request, pk)
    q = request.GET.get("q", "").strip()[:100]
    return TemplateResponse(request, "journeys/editor_test.html#results",
                            {"journey": journey, "found": _found(request, q), "q": q})  # fmt: skip


@workspace_required("journeys.publish")
@require_POST
def editor_test_contact_new(request, pk):
    """Make a test contact in the panel. Errors come back next to their fields with what was
    typed; success chooses the contact (a `test-contact` event with its id and label)."""
    journey = _journey(request, pk)
    typed = {k: request.POST.get(k, "").strip() for k in ("name", "phone", "email")}
    try:
        contact = testrun.test_contact_create(workspace=request.workspace, actor=Actor.from_request(request),
                                              data=typed)  # fmt: skip
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"name": exc.messages}
        known = {k: v for k, v in errors.items() if k in typed}
        other = [m for k, v in errors.items() if k not in typed for m in v]
        context = {"journey": journey, "typed": typed, "errors": known, "other_errors": other, "open": True}
        return TemplateResponse(request, "journeys/editor_test.html#new", context)
    response = TemplateResponse(request, "journeys/editor_test.html#new", {"journey": journey, "typed": {}})
    return trigger_client_event(response, "test-contact", {"id": contact.pk, "label": _label(contact)})


def _label(contact: Contact) -> str:
    return " · ".join(p for p in (contact.display_name, contact.phone or "", contact.email) if p)


def _fix(request, contact: Contact, blocked: Message | None):
    """What the tester can do about the latest send consent blocked: record a test opt-in (a
    test contact made here), or nothing but ask an admin; None once consent allows it now."""
    if blocked is None or not blocked.consent_rule.startswith("consent."):
        return None
    now = consent_check(contact, blocked.kind, blocked.purpose, timezone.now())
    if now.outcome == "allow":
        return {"done": True}
    if not now.rule.startswith("consent."):  # consent is there now; another rule still says no
        words = decision_words(now.outcome, now.rule, now.reason, purpose=blocked.purpose, channel_kind=blocked.kind,
                               until=now.defer_until, tz=timezone.get_current_timezone())  # fmt: skip
        return {"other": words.text}
    is_test = contact.tags.filter(name=testrun.TEST_TAG).exists()
    return {"channel": blocked.kind, "purpose": blocked.purpose, "channel_label": blocked.get_kind_display(),
            "is_test": is_test}  # fmt: skip


def phone_context(request, journey: Journey, contact: Contact | None) -> dict:
    """The panel's phone: the contact's messages since their latest test run started (the last
    few before one does), oldest first, each blocked or deferred one with its words."""
    if contact is None:
        return {"contact": None, "messages": [], "kind": "sms"}
    e = testrun.test_enrollment(journey=journey, contact=contact)
    messages = phone_messages(workspace=request.workspace, contact=contact, since=e.entered_at if e else None,
                              limit=PHONE_MESSAGES)  # fmt: skip
    tz = timezone.get_current_timezone()
    for m in messages:
        m.words = message_words(m, tz=tz)
    outbound = [m for m in messages if m.direction == Message.Direction.OUTBOUND]
    blocked = next((m for m in reversed(outbound) if m.status == Message.Status.BLOCKED), None)
    kind = outbound[-1].kind if outbound else (contact.preferred_channel or "sms")
    return {"contact": contact, "messages": messages, "kind": kind, "fix": _fix(request, contact, blocked),
            "journey": journey}  # fmt: skip


def _phone(request, journey: Journey, contact: Contact) -> tuple[str, str]:
    context = phone_context(request, journey, contact)
    html = render_to_string("journeys/editor_test.html#phone", context, request=request)
    return html, hashlib.sha1(html.encode()).hexdigest()[:16]


@workspace_required("journeys.publish")
def editor_test_start(request, pk):
    """GET: the test-run panel. POST: act on the test contact: start (the draft, frozen as a test
    snapshot), fire the current wait now, send an event, restart, record a test opt-in, or just
    read where it is ("path", the panel's poll). Answers the path (nodes visited, each step in
    words, the state in words, finished or not) and the phone; a draft with problems answers
    400 with them."""
    journey = _journey(request, pk)
    if request.method == "GET":
        found = _found(request, "")
        context = {"journey": journey, "found": found, "q": "", "typed": {},
                   "chosen": found[0] if found else None}  # fmt: skip
        context["phone"] = phone_context(request, journey, context["chosen"])
        return TemplateResponse(request, "journeys/editor_test.html", context)
    if request.method != "POST":
        return HttpResponseBadRequest("GET or POST.")
    contact = Contact.objects.filter(workspace=request.workspace, pk=request.POST.get("contact") or 0).first()
    if contact is None:
        return JsonResponse({"error": "Choose a test contact: search above, or make a new one."}, status=400)
    action, now, actor = request.POST.get("action", "start"), timezone.now(), Actor.for_user(request.user)
    try:
        if action == "start":
            testrun.test_run_start(journey=journey, contact=contact, actor=actor, now=now)
        elif action == "fire":
            testrun.test_wait_fire(journey=journey, contact=contact, now=now)
        elif action == "event":
            try:
                props = json_parse(request.POST.get("properties") or "{}")
            except JSONInputError as exc:
                return JsonResponse(
                    {"error": f"Properties must be a JSON object. {json_problem(exc)}"}, status=400
                )
            if not isinstance(props, dict):
                return JsonResponse({"error": "Properties must be a JSON object."}, status=400)
            testrun.test_event_send(journey=journey, contact=contact, name=request.POST.get("event", "").strip(),
                                    properties=props, now=now)  # fmt: skip
        elif action == "restart":
            testrun.test_restart(journey=journey, contact=contact, actor=actor, now=now)
        elif action == "opt_in":
            testrun.test_opt_in(contact=contact, channel_kind=request.POST.get("channel", ""),
                                purpose=request.POST.get("purpose", ""), actor=actor, now=now)  # fmt: skip
        elif action != "path":
            return JsonResponse({"error": f"Unknown action '{action}'."}, status=400)
    except JourneyInvalid as exc:
        return JsonResponse(
            {"error": "The draft has problems: fix them before a test run.", "problems": exc.problems},
            status=400,
        )
    except ValidationError as exc:
        return JsonResponse({"error": "; ".join(exc.messages)}, status=400)
    phone, sig = _phone(request, journey, contact)
    path = testrun.test_path(journey=journey, contact=contact, tz=timezone.get_current_timezone())
    return JsonResponse({"ok": True, **path, "phone": phone, "phone_sig": sig})
