"""Channels admin: add a sender, edit it (credentials are never shown back), test it against its
provider, enable or disable it."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cpaas.forms import apply_errors
from cpaas.tenancy import Actor, workspace_required

from .. import selectors
from ..forms import ChannelForm
from ..models import Channel
from ..providers import PROVIDERS, default_provider
from ..services import channels as services


def _channel_or_404(request, pk) -> Channel:
    try:
        return selectors.channel_get(workspace=request.workspace, pk=pk)
    except Channel.DoesNotExist:
        raise Http404 from None


@workspace_required("channels.manage")
def channel_list(request):
    services.sandbox_channels_ensure(workspace=request.workspace)
    return render(
        request,
        "channels_app/channel_list.html",
        {"channels": selectors.channel_list(workspace=request.workspace)},
    )


@workspace_required("channels.manage")
def channel_create(request):
    provider = request.POST.get("provider") or request.GET.get("provider") or default_provider()
    if provider not in PROVIDERS:
        provider = default_provider()
    form = ChannelForm(
        request.POST or None,
        provider=provider,
        initial={"provider": provider, "kind": request.GET.get("kind", "sms")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            channel = services.channel_create(
                workspace=request.workspace,
                actor=Actor.from_request(request),
                kind=data["kind"],
                provider=provider,
                name=data["name"],
                address=data["address"],
                credentials=form.credentials(),
                rate_limit_per_second=data["rate_limit_per_second"],
                settings=data["settings_json"],
            )
        except ValidationError as exc:
            apply_errors(form, _field_names(exc))
        else:
            flash.success(request, f"Channel {channel.name} added. Test it to check the credentials.")
            return redirect("channel_list")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "channels_app/channel_form.html", {"form": form, "provider": provider}, status=status
    )


def _field_names(exc: ValidationError) -> ValidationError:
    """Service field names -> form field names (credentials.x -> cred_x, settings -> settings_json)."""
    if not hasattr(exc, "error_dict"):
        return exc
    renamed = {}
    for field, messages in exc.message_dict.items():
        name = field.replace("credentials.", "cred_")
        renamed["settings_json" if name == "settings" else name] = messages
    return ValidationError(renamed)


@workspace_required("channels.manage")
def channel_edit(request, pk):
    channel = _channel_or_404(request, pk)
    initial = {
        "kind": channel.kind,
        "provider": channel.provider,
        "name": channel.name,
        "address": channel.address,
        "rate_limit_per_second": channel.rate_limit_per_second,
    }
    form = ChannelForm(request.POST or None, provider=channel.provider, editing=channel, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.channel_update(
                channel=channel,
                actor=Actor.from_request(request),
                name=data["name"],
                address=data["address"],
                rate_limit_per_second=data["rate_limit_per_second"],
                credentials=form.credentials(),
                settings=data["settings_json"],
            )
        except ValidationError as exc:
            apply_errors(form, _field_names(exc))
        else:
            flash.success(request, f"Channel {channel.name} saved.")
            return redirect("channel_list")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "channels_app/channel_form.html",
        {"form": form, "channel": channel, "provider": channel.provider},
        status=status,
    )


@require_POST
@workspace_required("channels.manage")
def channel_test(request, pk):
    channel = _channel_or_404(request, pk)
    ok, text = services.channel_test(channel=channel, actor=Actor.from_request(request))
    (flash.success if ok else flash.error)(request, f"{channel.name}: {text}")
    return redirect("channel_list")


@require_POST
@workspace_required("channels.manage")
def channel_toggle(request, pk):
    channel = _channel_or_404(request, pk)
    services.channel_set_status(
        channel=channel, actor=Actor.from_request(request), active=not channel.is_active
    )
    flash.success(request, f"{channel.name} {'enabled' if channel.is_active else 'disabled'}.")
    return redirect("channel_list")
