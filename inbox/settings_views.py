"""The inbox settings pages (`inbox.manage`): queues with their members, auto-assignment mode
and capacity, SLA targets per queue; business hours, the default queue, idle time and whether
agents may browse every contact; canned replies. The writes are inbox.services' (setup.py)."""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from cpaas.forms import apply_errors
from cpaas.models import Membership
from cpaas.roles import role_allows
from cpaas.tenancy import Actor, workspace_required
from journeys.merge import CONTACT_FIELDS, fields_in

from . import services
from .models import WEEKDAYS, CannedReply, InboxSettings, Queue, QueueMember

DAY_LABELS = dict(
    zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), strict=True)
)
INTERVAL = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")


def _agents(workspace):
    """Members who may work a queue: active members whose role may reply in the inbox."""
    rows = Membership.objects.filter(workspace=workspace, is_active=True).select_related("user")
    return sorted(
        (m.user for m in rows if role_allows(m.role, "inbox.reply")), key=lambda u: u.get_username().lower()
    )


class QueueForm(forms.Form):
    name = forms.CharField(max_length=60, help_text="As journeys' hand-off nodes name it, e.g. collections.")
    label = forms.CharField(max_length=120, required=False, help_text="Shown to agents; the name when empty.")
    auto_assign = forms.ChoiceField(choices=Queue.AutoAssign.choices, label="Auto-assignment")
    capacity = forms.IntegerField(
        min_value=1, max_value=1000, help_text="Open conversations auto-assignment gives one agent at most."
    )
    first_response_min = forms.IntegerField(
        required=False, min_value=1, label="First response SLA (minutes)",
        help_text="Counted in business hours. Empty: no target.",
    )  # fmt: skip
    resolution_min = forms.IntegerField(
        required=False, min_value=1, label="Resolution SLA (minutes)",
        help_text="Counted in business hours. Empty: no target.",
    )  # fmt: skip
    members = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Agents who see and take its conversations.",
    )

    def __init__(self, *args, agents, **kwargs):
        super().__init__(*args, **kwargs)
        self.agents = {str(u.pk): u for u in agents}
        self.fields["members"].choices = [(str(u.pk), u.get_full_name() or u.get_username()) for u in agents]

    @classmethod
    def initial_for(cls, queue: Queue | None) -> dict:
        if queue is None:
            return {"auto_assign": Queue.AutoAssign.OFF, "capacity": 10}
        return {
            "name": queue.name, "label": queue.label, "auto_assign": queue.auto_assign, "capacity": queue.capacity,
            "first_response_min": queue.first_response_s // 60 if queue.first_response_s else None,
            "resolution_min": queue.resolution_s // 60 if queue.resolution_s else None,
            "members": [str(pk) for pk in QueueMember.objects.filter(queue=queue).values_list("user_id", flat=True)],
        }  # fmt: skip


class SettingsForm(forms.Form):
    around_the_clock = forms.BooleanField(
        required=False, label="Open around the clock", help_text="SLA time counts every hour of every day."
    )
    default_queue = forms.ModelChoiceField(
        queryset=Queue.objects.none(),
        required=False,
        help_text="Where conversations started by a customer go.",
    )
    idle_away_minutes = forms.IntegerField(
        min_value=1, max_value=480, label="Away after (minutes idle)",
        help_text="An online agent without activity this long becomes away and gets no new conversations.",
    )  # fmt: skip
    contacts_open_to_agents = forms.BooleanField(
        required=False,
        label="Agents may browse every contact",
        help_text="Off: agents reach a contact only through a conversation they can see.",
    )

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["default_queue"].queryset = Queue.objects.filter(workspace=workspace)
        for day in WEEKDAYS:
            self.fields[f"hours_{day}"] = forms.CharField(
                required=False, label=DAY_LABELS[day], help_text="e.g. 09:00-17:00, or 08:00-12:00, 13:00-18:00; empty: closed"
            )  # fmt: skip

    @property
    def day_fields(self):
        return [self[f"hours_{day}"] for day in WEEKDAYS]

    @property
    def other_fields(self):
        return [self[n] for n in ("default_queue", "idle_away_minutes", "contacts_open_to_agents")]

    @classmethod
    def initial_for(cls, workspace, settings: InboxSettings) -> dict:
        hours = settings.business_hours or {}
        initial = {
            "around_the_clock": not hours,
            "default_queue": settings.default_queue_id,
            "idle_away_minutes": settings.idle_away_minutes,
            "contacts_open_to_agents": workspace.contacts_open_to_agents,
        }
        for day in WEEKDAYS:
            initial[f"hours_{day}"] = ", ".join(f"{a}-{b}" for a, b in hours.get(day, []))
        return initial

    def business_hours(self) -> dict:
        """{} (around the clock) or {day: [[start, end], ...]} read from the day fields; a bad
        interval is an error on its day."""
        if self.cleaned_data.get("around_the_clock"):
            return {}
        hours = {}
        for day in WEEKDAYS:
            text = self.cleaned_data.get(f"hours_{day}") or ""
            intervals = []
            for part in (p for p in text.split(",") if p.strip()):
                m = INTERVAL.match(part)
                if not m:
                    self.add_error(f"hours_{day}", f"'{part.strip()}' is not HH:MM-HH:MM.")
                    continue
                intervals.append([t.zfill(5) for t in m.groups()])
            hours[day] = intervals
        if not any(hours.values()) and not self.errors:
            self.add_error(
                "around_the_clock", "Give opening hours for at least one day, or choose around the clock."
            )
        return hours


class CannedForm(forms.Form):
    shortcut = forms.CharField(max_length=41, help_text="Typed after / in the composer, e.g. payplan.")
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Merge fields: {{contact.first_name|there}}, {{contact.<attribute>}}, {{agent.name}}.",
    )

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace

    def clean_body(self):
        from contacts.models import AttributeDefinition

        body = self.cleaned_data["body"]
        attributes = set(
            AttributeDefinition.objects.filter(workspace=self.workspace).values_list("key", flat=True)
        )
        problems = []
        for root, path in fields_in(body):
            if root == "agent" and path == ["name"]:
                continue
            if root != "contact" or not path:
                problems.append(f"{{{{{'.'.join([root, *path])}}}}} is not a merge field a reply can fill.")
            elif path[0] not in CONTACT_FIELDS and path[0] not in attributes:
                problems.append(f"{{{{contact.{path[0]}}}}} is neither a contact field nor an attribute.")
        if problems:
            raise ValidationError(problems)
        return body


def _queue_or_404(request, pk) -> Queue:
    queue = Queue.objects.filter(workspace=request.workspace, pk=pk).first()
    if queue is None:
        raise Http404("No such queue.")
    return queue


def _canned_or_404(request, pk) -> CannedReply:
    canned = CannedReply.objects.filter(workspace=request.workspace, pk=pk).first()
    if canned is None:
        raise Http404("No such canned reply.")
    return canned


@workspace_required("inbox.manage")
def inbox_settings(request):
    settings = services.inbox_settings_get(request.workspace)
    form = SettingsForm(
        request.POST or None,
        workspace=request.workspace,
        initial=SettingsForm.initial_for(request.workspace, settings),
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            hours = form.business_hours()
            if form.is_valid():  # business_hours() may add errors
                try:
                    services.inbox_settings_update(
                        actor=Actor.from_request(request),
                        workspace=request.workspace,
                        business_hours=hours,
                        default_queue=form.cleaned_data["default_queue"],
                        idle_away_minutes=form.cleaned_data["idle_away_minutes"],
                        contacts_open_to_agents=form.cleaned_data["contacts_open_to_agents"],
                    )
                except ValidationError as exc:
                    _business_hours_errors(form, exc)
                else:
                    messages.success(request, "Inbox settings saved.")
                    return redirect("inbox_settings")
        status = 400
    queues = list(Queue.objects.filter(workspace=request.workspace).prefetch_related("memberships__user"))
    context = {
        "form": form,
        "queues": queues,
        "canned": CannedReply.objects.filter(workspace=request.workspace),
    }
    return TemplateResponse(request, "inbox/settings.html", context, status=status)


def _business_hours_errors(form, exc) -> None:
    errors = getattr(exc, "message_dict", {})
    if "business_hours" in errors:
        form.add_error("around_the_clock", errors.pop("business_hours"))
        exc = ValidationError(errors) if errors else None
    if exc is not None:
        apply_errors(form, exc)


@workspace_required("inbox.manage")
def queue_edit(request, pk=None):
    queue = _queue_or_404(request, pk) if pk is not None else None
    agents = _agents(request.workspace)
    form = QueueForm(request.POST or None, agents=agents, initial=QueueForm.initial_for(queue))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        actor = Actor.from_request(request)
        try:
            with transaction.atomic():  # the queue and its members, or nothing
                saved = services.queue_save(
                    actor=actor, workspace=request.workspace, queue=queue, name=data["name"], label=data["label"],
                    auto_assign=data["auto_assign"], capacity=data["capacity"],
                    first_response_s=data["first_response_min"] * 60 if data["first_response_min"] else None,
                    resolution_s=data["resolution_min"] * 60 if data["resolution_min"] else None,
                )  # fmt: skip
                services.queue_members_set(
                    actor=actor, queue=saved, users=[form.agents[pk] for pk in data["members"]]
                )
        except ValidationError as exc:
            errors = exc.message_dict
            if "first_response_s" in errors:
                errors["first_response_min"] = errors.pop("first_response_s")
            if "resolution_s" in errors:
                errors["resolution_min"] = errors.pop("resolution_s")
            apply_errors(form, ValidationError(errors))
        else:
            messages.success(request, f"Queue {saved.display_name} saved.")
            return redirect("inbox_settings")
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "inbox/queue_form.html", {"form": form, "queue": queue}, status=status)


@require_POST
@workspace_required("inbox.manage")
def queue_delete(request, pk):
    queue = _queue_or_404(request, pk)
    try:
        services.queue_delete(actor=Actor.from_request(request), queue=queue)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Queue {queue.display_name} deleted.")
    return redirect("inbox_settings")


@workspace_required("inbox.manage")
def canned_edit(request, pk=None):
    canned = _canned_or_404(request, pk) if pk is not None else None
    initial = {"shortcut": canned.shortcut, "body": canned.body} if canned else {}
    form = CannedForm(request.POST or None, workspace=request.workspace, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.canned_reply_save(
                actor=Actor.from_request(request), workspace=request.workspace, canned=canned,
                shortcut=form.cleaned_data["shortcut"], body=form.cleaned_data["body"],
            )  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Canned reply /{saved.shortcut} saved.")
            return redirect("inbox_settings")
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(
        request, "inbox/canned_form.html", {"form": form, "canned": canned}, status=status
    )


@require_POST
@workspace_required("inbox.manage")
def canned_delete(request, pk):
    canned = _canned_or_404(request, pk)
    services.canned_reply_delete(actor=Actor.from_request(request), canned=canned)
    messages.success(request, f"Canned reply /{canned.shortcut} deleted.")
    return redirect("inbox_settings")
