"""A page to try OTP verification: start one for a contact or a number, watch the code arrive
in the simulator, check it, resend on the next channel."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone

from contacts.models import Contact
from cpaas.forms import apply_errors
from cpaas.tenancy import Actor, workspace_required

from .. import selectors
from ..forms import VerificationCheckForm, VerificationStartForm, VerifyPolicyForm
from ..models import Message, Verification
from ..services.verify import (
    verification_channel,
    verification_check,
    verification_resend,
    verification_start,
)
from ..services.verify_policy import busiest_prefixes, verify_policy_get, verify_policy_update

OUTCOMES = {
    "approved": ("success", "Approved: the code matches."),
    "incorrect": ("error", "Incorrect code."),
    "already_approved": ("error", "This verification was already approved; a code is checked only once."),
    "expired": ("error", "The code has expired; start a new verification."),
    "too_many_attempts": ("error", "Too many attempts; start a new verification."),
    "canceled": ("error", "This verification was replaced by a newer one."),
}


@workspace_required("verify.use")
def verification_list(request):
    form = VerificationStartForm(request.POST or None, initial={"contact": request.GET.get("contact")})
    contacts = selectors.simulator_contacts(workspace=request.workspace)
    form.fields["contact"].widget.choices = [("", "—")] + [
        (c.pk, f"{c.display_name} {c.phone or ''}") for c in contacts
    ]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        contact = None
        if data.get("contact"):
            contact = Contact.objects.filter(workspace=request.workspace, pk=data["contact"]).first()
            if contact is None:
                raise Http404
        try:
            verification = verification_start(
                workspace=request.workspace,
                contact=contact,
                to=data.get("to") or None,
                channels=form.channel_list(),
                code_length=data["code_length"],
                expiry_s=data["expiry_s"],
                fallback_after_s=data["fallback_after_s"],
                locale=data["locale"],
                actor=Actor.from_request(request),
                now=timezone.now(),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            flash.success(request, f"Code sent by {verification.channels[0]}. Open the simulator to see it.")
            return redirect("verification_detail", pk=verification.pk)
    context = {"form": form, "verifications": selectors.verification_list(workspace=request.workspace)[:30]}
    return TemplateResponse(
        request, "channels_app/verification_list.html", context, status=400 if form.errors else 200
    )


@workspace_required("verify.use")
def verification_detail(request, pk):
    try:
        verification = selectors.verification_get(workspace=request.workspace, pk=pk)
    except Verification.DoesNotExist:
        raise Http404 from None
    form = VerificationCheckForm(request.POST if request.POST.get("action") == "check" else None)
    if request.method == "POST":
        now = timezone.now()
        if request.POST.get("action") == "resend":
            try:
                verification_resend(verification=verification, now=now)
                flash.success(request, "A new code is on its way on the next channel.")
            except ValidationError as exc:
                flash.error(request, " ".join(exc.messages))
            return redirect("verification_detail", pk=pk)
        if form.is_valid():
            outcome = verification_check(verification=verification, code=form.cleaned_data["code"], now=now)
            level, text = OUTCOMES[outcome]
            getattr(flash, level)(request, text)
            return redirect("verification_detail", pk=pk)
    messages = Message.objects.filter(
        workspace=request.workspace, origin=Message.Origin.OTP, origin_ref=f"verification {verification.pk}"
    ).order_by("created_at", "id")
    context = {
        "verification": verification,
        "form": form,
        "messages_sent": messages,
        "channel": verification_channel(verification),
        "now": timezone.now(),
    }
    return TemplateResponse(request, "channels_app/verification_detail.html", context)


POLICY_FIELDS = ("per_minute", "per_number", "per_ip", "per_prefix", "resend_cooldown_s")


@workspace_required("channels.manage")
def verification_settings(request):
    """Countries, limits and resend cooldown against SMS pumping, and the busiest prefixes."""
    policy = verify_policy_get(workspace=request.workspace)
    initial = {f: getattr(policy, f) for f in POLICY_FIELDS} | {"countries": ", ".join(policy.countries)}
    form = VerifyPolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            verify_policy_update(
                workspace=request.workspace,
                actor=Actor.from_request(request),
                data=form.data_for_service(),
                now=timezone.now(),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            flash.success(request, "Verification settings saved.")
            return redirect("verification_settings")
    context = {
        "form": form,
        "prefixes": busiest_prefixes(workspace=request.workspace, now=timezone.now()),
    }
    return TemplateResponse(
        request, "channels_app/verification_settings.html", context, status=400 if form.errors else 200
    )
